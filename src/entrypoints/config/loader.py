"""Reads the settings from the environment and `.env`, and explains what is wrong in one line."""

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import msgspec
from dotenv import dotenv_values

from domain.notifications.push_endpoint import PushServiceAllowlist
from entrypoints.config.cors import (
    CorsPolicy,
    parse_header_names,
    parse_methods,
    parse_origins,
)
from entrypoints.config.errors import ConfigurationError, first_line
from entrypoints.config.rules import check_addresses, check_links, check_pairings, check_production
from entrypoints.config.settings import Settings

ENV_FILE_VARIABLE = "PORTICO_ENV_FILE"
# Parses msgspec's message wording: tests/unit/test_reliances_msgspec.py
_MSGSPEC_PATH = re.compile(r"^(?P<reason>.*) - at `\$\.(?P<section>\w+)\.(?P<field>\w+)`")
_Parsed = TypeVar("_Parsed")
SettingSource = Literal["default", "env file", "environment"]
"""Where a setting's value comes from, as `portico config show` names it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SettingSpec:
    """One environment variable, as documented in the configuration reference."""

    variable: str
    section: str
    field: str
    description: str
    default: Any
    secret: bool
    type_name: str


def setting_specs() -> list[SettingSpec]:
    """List every environment variable the settings read, in declaration order."""
    specs: list[SettingSpec] = []
    root = msgspec.inspect.type_info(Settings)
    assert isinstance(root, msgspec.inspect.StructType)  # noqa: S101 - Settings is a Struct
    for section in root.fields:
        section_type = section.type
        assert isinstance(section_type, msgspec.inspect.StructType)  # noqa: S101 - a Section
        for field in section_type.fields:
            field_type = field.type
            assert isinstance(field_type, msgspec.inspect.Metadata)  # noqa: S101 - from_env's Meta
            extra = field_type.extra or {}
            specs.append(
                SettingSpec(
                    variable=extra["env"],
                    section=section.name,
                    field=field.name,
                    description=field_type.extra_json_schema.get("description", "")
                    if field_type.extra_json_schema
                    else "",
                    default=field.default,
                    secret=bool(extra.get("secret")),
                    type_name=_type_name(field_type.type),
                ),
            )
    return specs


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    env_file: Path | None = None,
) -> Settings:
    """Build validated settings; the process environment wins over the `.env` file.

    An empty value counts as unset. Raises ConfigurationError naming the first bad variable,
    or PORTICO_ENV_FILE when the file it names cannot be read.
    """
    environ = os.environ if environ is None else environ
    values = {**_env_file_values(environ, env_file), **environ}

    specs = {(spec.section, spec.field): spec for spec in setting_specs()}
    raw: dict[str, dict[str, str]] = {}
    for spec in specs.values():
        value = values.get(spec.variable, "").strip()
        if value:
            raw.setdefault(spec.section, {})[spec.field] = value
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise _explain(exc, raw, specs) from None
    _check_rules(settings)
    return settings


def setting_sources(
    environ: Mapping[str, str] | None = None,
    *,
    env_file: Path | None = None,
) -> dict[str, SettingSource]:
    """Where each variable's value comes from, by the rules of `load_settings`."""
    environ = os.environ if environ is None else environ
    from_file = _env_file_values(environ, env_file)
    sources: dict[str, SettingSource] = {}
    for spec in setting_specs():
        if spec.variable in environ:
            set_here = bool(environ[spec.variable].strip())
            sources[spec.variable] = "environment" if set_here else "default"
        elif from_file.get(spec.variable, "").strip():
            sources[spec.variable] = "env file"
        else:
            sources[spec.variable] = "default"
    return sources


def env_file_values(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The `.env` file's values, found as `load_settings` finds it, settings or not.

    For the variables other libraries read from the environment themselves (OpenTelemetry's
    ``OTEL_*``), which the file may hold like any setting.
    """
    return _env_file_values(os.environ if environ is None else environ, None)


def _env_file_values(environ: Mapping[str, str], env_file: Path | None) -> dict[str, str]:
    """The `.env` file's values: `env_file`, else PORTICO_ENV_FILE's, else `./.env` if any.

    A file PORTICO_ENV_FILE names must exist and be readable, and so must a `./.env` that
    is there; a missing `./.env` (or `env_file`) is fine.
    """
    named = environ.get(ENV_FILE_VARIABLE, "").strip()
    if env_file is None and named:
        path, variable = Path(named), ENV_FILE_VARIABLE
        hint = f"point {ENV_FILE_VARIABLE} at a readable file, or unset it"
    else:
        path = env_file or Path(".env")
        variable, hint = str(path), "make it readable, or remove it"
        if not path.is_file():
            return {}
    try:
        with path.open(encoding="utf-8") as stream:
            parsed = dotenv_values(stream=stream)
    except FileNotFoundError:
        problem = "no such file"
    except IsADirectoryError:
        problem = "a directory, not a file"
    except PermissionError:
        problem = "permission denied"
    except (OSError, UnicodeDecodeError) as exc:
        problem = first_line(exc)
    else:
        return {key: value for key, value in parsed.items() if value is not None}
    raise ConfigurationError(variable, f"cannot read {str(path)!r} ({problem}); {hint}")


def _explain(
    exc: msgspec.ValidationError,
    raw: dict[str, dict[str, str]],
    specs: dict[tuple[str, str], SettingSpec],
) -> ConfigurationError:
    match = _MSGSPEC_PATH.match(str(exc))
    if match is None:
        return ConfigurationError("configuration", str(exc))
    spec = specs[(match["section"], match["field"])]
    reason = _plain_reason(match["reason"], spec)
    if spec.secret:
        return ConfigurationError(spec.variable, reason)
    given = raw[spec.section][spec.field]
    return ConfigurationError(spec.variable, f"{reason}; got {given!r}")


_PLAIN_TYPES = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "text"}


def _plain_reason(reason: str, spec: SettingSpec) -> str:
    if reason.startswith("Invalid enum value"):
        return f"expected one of {spec.type_name.replace(' | ', ', ')}"
    wrong_type = re.match(r"Expected `(\w+)`, got `\w+`", reason)
    if wrong_type:
        return f"expected {_PLAIN_TYPES.get(wrong_type[1], wrong_type[1])}"
    return reason[0].lower() + reason[1:]


def _check_rules(settings: Settings) -> None:
    check_production(settings)
    push_allowlist(settings)
    check_addresses(settings)
    check_pairings(settings)
    cors_policy(settings)
    check_links(settings)


def cors_policy(settings: Settings) -> CorsPolicy | None:
    """The CORS policy the settings describe; None when no origin is allowed.

    Every CORS variable is checked, set or not; raises ConfigurationError naming the first
    malformed one.
    """
    cors = settings.cors
    origins = (
        _parsed("CORS_ALLOWED_ORIGINS", parse_origins, cors.allowed_origins)
        if cors.allowed_origins is not None
        else frozenset[str]()
    )
    methods = _parsed("CORS_ALLOWED_METHODS", parse_methods, cors.allowed_methods)
    headers = _parsed("CORS_ALLOWED_HEADERS", parse_header_names, cors.allowed_headers)
    exposed = _parsed("CORS_EXPOSE_HEADERS", parse_header_names, cors.exposed_headers)
    try:
        policy = CorsPolicy(
            allowed_origins=origins,
            allowed_methods=methods,
            allowed_headers=headers,
            exposed_headers=exposed,
            allow_credentials=cors.allow_credentials,
            max_age_seconds=cors.max_age_seconds,
        )
    except ValueError as exc:
        raise ConfigurationError("CORS_ALLOWED_ORIGINS", str(exc)) from None
    return policy if origins else None


def _parsed(variable: str, parse: Callable[[str], _Parsed], text: str) -> _Parsed:
    try:
        return parse(text)
    except ValueError as exc:
        raise ConfigurationError(variable, str(exc)) from None


def push_allowlist(settings: Settings) -> PushServiceAllowlist:
    """The push services PUSH_ALLOWED_HOSTS lists.

    Raises ConfigurationError for a malformed pattern, and for PUSH_ALLOW_LOCAL_ENDPOINTS
    when APP_ENV=production: it would let users point the worker at internal addresses.
    """
    push = settings.push
    if settings.is_production and push.allow_local_endpoints:
        raise ConfigurationError(
            "PUSH_ALLOW_LOCAL_ENDPOINTS",
            "must be false when APP_ENV=production (it admits endpoints on private networks)",
        )
    return _parsed("PUSH_ALLOWED_HOSTS", PushServiceAllowlist.parse, push.allowed_hosts)


_SCALAR_NAMES: dict[type[msgspec.inspect.Type], str] = {
    msgspec.inspect.IntType: "int",
    msgspec.inspect.FloatType: "float",
    msgspec.inspect.BoolType: "bool",
}


def _type_name(annotation: msgspec.inspect.Type) -> str:
    match annotation:
        case msgspec.inspect.UnionType(types=types):
            names = [_type_name(t) for t in types if not isinstance(t, msgspec.inspect.NoneType)]
            return " | ".join(names)
        case msgspec.inspect.LiteralType(values=values):
            return " | ".join(str(v) for v in values)
        case msgspec.inspect.Metadata(type=inner):
            return _type_name(inner)
        case _:
            return _SCALAR_NAMES.get(type(annotation), "str")
