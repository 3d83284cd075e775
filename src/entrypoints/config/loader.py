"""Reads the settings from the environment and `.env`, and explains what is wrong in one line."""

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import msgspec
from dotenv import dotenv_values

from domain.notifications.push_endpoint import PushServiceAllowlist
from entrypoints.config.cors import (
    CorsPolicy,
    parse_header_names,
    parse_methods,
    parse_origins,
)
from entrypoints.config.settings import Settings

ENV_FILE_VARIABLE = "PORTICO_ENV_FILE"
MIN_JWT_SECRET_BYTES = 32
_MIN_SECRET_BYTES_BY_ALGORITHM = {"HS256": 32, "HS384": 48, "HS512": 64}
"""RFC 7518 section 3.2: an HMAC key at least as long as the hash's output."""
_REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})
# Parses msgspec's message wording: tests/unit/test_reliances_msgspec.py
_MSGSPEC_PATH = re.compile(r"^(?P<reason>.*) - at `\$\.(?P<section>\w+)\.(?P<field>\w+)`")
_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")
_Parsed = TypeVar("_Parsed")
SettingSource = Literal["default", "env file", "environment"]
"""Where a setting's value comes from, as `portico config show` names it."""


class ConfigurationError(Exception):
    """A setting is missing or invalid. `variable` names it; the message is one line."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


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
        problem = _first_line(exc)
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
    _check_production(settings)
    push_allowlist(settings)
    _check_addresses(settings)
    _check_pairings(settings)
    cors_policy(settings)
    _check_links(settings)


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


def _check_production(settings: Settings) -> None:
    secret = settings.auth.jwt_secret
    algorithm = settings.auth.jwt_algorithm
    minimum = _MIN_SECRET_BYTES_BY_ALGORITHM.get(algorithm, MIN_JWT_SECRET_BYTES)
    if secret is not None and len(secret.encode()) < minimum:
        raise ConfigurationError(
            "JWT_SECRET",
            f"must be at least {minimum} bytes for {algorithm}, got {len(secret.encode())}",
        )
    if settings.is_production and secret is None:
        raise ConfigurationError(
            "JWT_SECRET",
            f"must be set to a random value of at least {MIN_JWT_SECRET_BYTES} bytes "
            "when APP_ENV=production",
        )
    if settings.is_production and settings.database.url is None:
        raise ConfigurationError(
            "DATABASE_URL",
            "must be set when APP_ENV=production (the embedded database is for development)",
        )
    if (
        settings.is_production
        and settings.app.server == "granian"
        and settings.websocket.max_unauthenticated > 0
    ):
        raise ConfigurationError(
            "WS_MAX_UNAUTHENTICATED",
            "must be 0 under APP_SERVER=granian when APP_ENV=production: granian reads a "
            "whole WebSocket frame (up to 16 MiB) before the app can refuse it, so each socket "
            "waiting for its auth message could hold 16 MiB; open a waiting room under "
            "APP_SERVER=uvicorn, which refuses an oversized frame from its header",
        )
    if settings.is_production and not _is_https_url(settings.app.public_url):
        raise ConfigurationError(
            "APP_PUBLIC_URL",
            "must be set to the https:// address users reach when APP_ENV=production "
            f"(emailed links start there); got {settings.app.public_url!r}",
        )


def _is_https_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme == "https" and bool(parts.hostname)
    except ValueError:
        return False


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


def _check_pairings(settings: Settings) -> None:
    """Settings that only make sense together."""
    mail = settings.mail
    if (mail.smtp_username is None) != (mail.smtp_password is None):
        raise ConfigurationError("SMTP_USERNAME", "set SMTP_USERNAME and SMTP_PASSWORD together")
    sms = settings.sms
    sms_parts = (sms.base_url, sms.account_sid, sms.auth_token, sms.sender)
    if any(part is not None for part in sms_parts) and None in sms_parts:
        raise ConfigurationError(
            "SMS_BASE_URL",
            "set SMS_BASE_URL, SMS_ACCOUNT_SID, SMS_AUTH_TOKEN and SMS_FROM together",
        )
    if settings.push.vapid_private_key is not None:
        from adapters.webpush.sender import vapid_public_key  # noqa: PLC0415 - cryptography, when needed

        try:
            vapid_public_key(settings.push.vapid_private_key)
        except ValueError:
            raise ConfigurationError(
                "PUSH_VAPID_PRIVATE_KEY",
                "must be a base64url P-256 private key; `portico push keys` makes one",
            ) from None
    if settings.queue.backend == "redis" and settings.cache.redis_url is None:
        raise ConfigurationError("JOBS_QUEUE", "`redis` needs REDIS_URL")
    if settings.outbox.bus == "redis-streams" and settings.cache.redis_url is None:
        raise ConfigurationError("EVENT_BUS", "`redis-streams` needs REDIS_URL")


def _check_addresses(settings: Settings) -> None:
    if settings.app.trusted_proxies is not None:
        from entrypoints.http.client_address import parse_networks  # noqa: PLC0415 - no Litestar for the CLI

        try:
            parse_networks(settings.app.trusted_proxies)
        except ValueError as exc:
            raise ConfigurationError("TRUSTED_PROXIES", _first_line(exc)) from None
    if settings.database.url is not None:
        from adapters.sqlalchemy.engine import to_psycopg_url  # noqa: PLC0415 - SQLAlchemy, when needed

        try:
            to_psycopg_url(settings.database.url)
        except Exception as exc:  # noqa: BLE001 - any parse failure is a configuration error
            raise ConfigurationError("DATABASE_URL", _first_line(exc)) from None
    if settings.cache.redis_url is not None:
        scheme = urlsplit(settings.cache.redis_url).scheme
        if scheme not in _REDIS_SCHEMES:
            raise ConfigurationError(
                "REDIS_URL", f"unsupported scheme {scheme!r}; use redis://, rediss:// or unix://"
            )
        from redis.asyncio.connection import parse_url as parse_redis_url  # noqa: PLC0415

        try:
            # parse_url is undocumented in redis-py: tests/unit/test_reliances_redis.py
            parse_redis_url(settings.cache.redis_url)
        except ValueError as exc:
            raise ConfigurationError("REDIS_URL", _first_line(exc)) from None
    if settings.kafka.bootstrap_servers is not None:
        for server in settings.kafka.bootstrap_servers.split(","):
            if not _HOST_PORT.match(server.strip()):
                raise ConfigurationError(
                    "KAFKA_BOOTSTRAP_SERVERS", f"expected host:port, got {server.strip()!r}"
                )


_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def _check_links(settings: Settings) -> None:
    """Check the link settings: a frontend's address, and each pattern.

    LINKS_FRONTEND_URL is an http(s) address (https in production) with no query or
    fragment; each LINKS_*_PATH starts with `/`, `?` or `#` and holds its one placeholder.
    """
    links = settings.links
    url = links.frontend_url
    if url is not None:
        try:
            parts = urlsplit(url)
            well_formed = parts.scheme in {"http", "https"} and bool(parts.hostname)
        except ValueError:
            well_formed = False
        if not well_formed or parts.query or parts.fragment or not _is_plain(url):
            raise ConfigurationError(
                "LINKS_FRONTEND_URL", f"expected http(s)://host[/path]; got {url!r}"
            )
        if settings.is_production and not _is_https_url(url):
            raise ConfigurationError(
                "LINKS_FRONTEND_URL", f"must be https:// when APP_ENV=production; got {url!r}"
            )
    for variable, (pattern, placeholder) in links.path_patterns().items():
        found = _PLACEHOLDER.findall(pattern)
        expected = [placeholder] if placeholder else []
        if not pattern.startswith(("/", "?", "#")) or found != expected or not _is_plain(pattern):
            wanted = f"holding {placeholder} once" if placeholder else "with no placeholder"
            raise ConfigurationError(
                variable, f"expected a path starting with /, ? or #, {wanted}; got {pattern!r}"
            )


def _is_plain(text: str) -> bool:
    """Printable, with no whitespace: safe in a Location header and in a mail."""
    return text.isprintable() and not any(character.isspace() for character in text)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


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
