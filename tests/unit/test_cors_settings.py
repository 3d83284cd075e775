"""The CORS settings: what they accept, how they normalize, and how a bad one stops the start."""

from pathlib import Path

import pytest

from entrypoints.config import ConfigurationError, load_settings
from entrypoints.config.cors import CorsPolicy
from entrypoints.config.loader import cors_policy
from tests.support.server import clean_env, run_portico


def policy(**env: str) -> CorsPolicy | None:
    return cors_policy(load_settings(env, env_file=None))


def test_by_default_no_origin_is_allowed_and_there_is_no_policy() -> None:
    assert policy() is None
    assert policy(CORS_ALLOWED_ORIGINS=" ") is None


def test_the_defaults_suit_a_realworld_frontend() -> None:
    allowed = policy(CORS_ALLOWED_ORIGINS="http://localhost:4100")
    assert allowed == CorsPolicy(
        allowed_origins=frozenset({"http://localhost:4100"}),
        allowed_methods=("GET", "POST", "PUT", "DELETE"),
        allowed_headers=("Authorization", "Content-Type", "X-Request-ID"),
        exposed_headers=("X-Request-ID", "Retry-After"),
        allow_credentials=False,
        max_age_seconds=600,
    )


def test_origins_are_written_the_way_browsers_send_them() -> None:
    allowed = policy(
        CORS_ALLOWED_ORIGINS="HTTPS://App.Example.com:443, http://[0:0::1]:80,"
        " http://127.0.0.1:8080, https://xn--bcher-kva.example",
        CORS_ALLOWED_METHODS="get, Patch",
        CORS_ALLOW_CREDENTIALS="true",
    )
    assert allowed is not None
    assert allowed.allowed_origins == {
        "https://app.example.com",
        "http://[::1]",
        "http://127.0.0.1:8080",
        "https://xn--bcher-kva.example",
    }
    assert allowed.allowed_methods == ("GET", "PATCH")
    assert allowed.allow_credentials


def test_a_star_alone_allows_any_origin_without_credentials() -> None:
    allowed = policy(CORS_ALLOWED_ORIGINS="*")
    assert allowed is not None
    assert allowed.allows_any_origin
    assert not allowed.allow_credentials


@pytest.mark.parametrize(
    ("env", "variable", "fragment"),
    [
        ({"CORS_ALLOWED_ORIGINS": "https://app.example.com/"}, "CORS_ALLOWED_ORIGINS", "path"),
        ({"CORS_ALLOWED_ORIGINS": "https://app.example.com/x"}, "CORS_ALLOWED_ORIGINS", "path"),
        ({"CORS_ALLOWED_ORIGINS": "https://a.example?x=1"}, "CORS_ALLOWED_ORIGINS", "query"),
        ({"CORS_ALLOWED_ORIGINS": "https://a.example#top"}, "CORS_ALLOWED_ORIGINS", "fragment"),
        ({"CORS_ALLOWED_ORIGINS": "https://me:pw@a.example"}, "CORS_ALLOWED_ORIGINS", "user info"),
        ({"CORS_ALLOWED_ORIGINS": "app.example.com"}, "CORS_ALLOWED_ORIGINS", "http:// or"),
        ({"CORS_ALLOWED_ORIGINS": "ftp://a.example"}, "CORS_ALLOWED_ORIGINS", "http:// or"),
        ({"CORS_ALLOWED_ORIGINS": "null"}, "CORS_ALLOWED_ORIGINS", "'null'"),
        ({"CORS_ALLOWED_ORIGINS": "https://*.example.com"}, "CORS_ALLOWED_ORIGINS", "host"),
        ({"CORS_ALLOWED_ORIGINS": "https://"}, "CORS_ALLOWED_ORIGINS", "host"),
        ({"CORS_ALLOWED_ORIGINS": "https://bücher.example"}, "CORS_ALLOWED_ORIGINS", "xn--"),
        ({"CORS_ALLOWED_ORIGINS": "https://a.example:0"}, "CORS_ALLOWED_ORIGINS", "port"),
        ({"CORS_ALLOWED_ORIGINS": "https://a.example:70000"}, "CORS_ALLOWED_ORIGINS", "port"),
        ({"CORS_ALLOWED_ORIGINS": "https://[::1"}, "CORS_ALLOWED_ORIGINS", "host"),
        (
            {"CORS_ALLOWED_ORIGINS": "https://a.example,,https://b.example"},
            "CORS_ALLOWED_ORIGINS",
            "empty",
        ),
        ({"CORS_ALLOWED_ORIGINS": "*, https://a.example"}, "CORS_ALLOWED_ORIGINS", "stands alone"),
        (
            {"CORS_ALLOWED_ORIGINS": "*", "CORS_ALLOW_CREDENTIALS": "true"},
            "CORS_ALLOWED_ORIGINS",
            "credentials",
        ),
        ({"CORS_ALLOWED_METHODS": "GET, FETCH"}, "CORS_ALLOWED_METHODS", "'FETCH'"),
        ({"CORS_ALLOWED_METHODS": "TRACE"}, "CORS_ALLOWED_METHODS", "unknown method"),
        ({"CORS_ALLOWED_METHODS": "*"}, "CORS_ALLOWED_METHODS", "unknown method"),
        ({"CORS_ALLOWED_HEADERS": "Authorization, X Trace"}, "CORS_ALLOWED_HEADERS", "'X Trace'"),
        ({"CORS_ALLOWED_HEADERS": "*"}, "CORS_ALLOWED_HEADERS", "not a header name"),
        ({"CORS_EXPOSE_HEADERS": "Retry-After:"}, "CORS_EXPOSE_HEADERS", "not a header name"),
        ({"CORS_ALLOW_CREDENTIALS": "maybe"}, "CORS_ALLOW_CREDENTIALS", "true or false"),
        ({"CORS_MAX_AGE_SECONDS": "-1"}, "CORS_MAX_AGE_SECONDS", ">= 0"),
        ({"CORS_MAX_AGE_SECONDS": "86401"}, "CORS_MAX_AGE_SECONDS", "<= 86400"),
    ],
)
def test_a_malformed_value_names_its_variable_in_one_line(
    env: dict[str, str], variable: str, fragment: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(env, env_file=None)
    assert caught.value.variable == variable
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_malformed_list_is_refused_even_with_no_origin_allowed() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({"CORS_ALLOWED_HEADERS": "Bad Header"}, env_file=None)
    assert caught.value.variable == "CORS_ALLOWED_HEADERS"


def test_the_policy_itself_refuses_a_star_with_credentials() -> None:
    with pytest.raises(ValueError, match="credentials"):
        CorsPolicy(
            allowed_origins=frozenset({"*"}),
            allowed_methods=("GET",),
            allowed_headers=(),
            exposed_headers=(),
            allow_credentials=True,
            max_age_seconds=0,
        )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CORS_ALLOWED_ORIGINS", "https://app.example.com/"),
        ("CORS_ALLOWED_ORIGINS", "https://*.example.com"),
        ("CORS_ALLOWED_METHODS", "GET, YEET"),
        ("CORS_ALLOWED_HEADERS", "Content Type"),
    ],
)
def test_portico_config_check_exits_2_naming_the_variable(
    tmp_path: Path, variable: str, value: str
) -> None:
    result = run_portico("config", "check", env=clean_env(**{variable: value}), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"portico: configuration error: {variable}: ")
    assert "Traceback" not in result.stderr


def test_portico_config_check_refuses_a_star_with_credentials(tmp_path: Path) -> None:
    env = clean_env(CORS_ALLOWED_ORIGINS="*", CORS_ALLOW_CREDENTIALS="true")
    result = run_portico("config", "check", env=env, cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "CORS_ALLOWED_ORIGINS" in line
    assert "credentials" in line


def test_portico_config_check_accepts_a_frontend_origin(tmp_path: Path) -> None:
    env = clean_env(
        CORS_ALLOWED_ORIGINS="https://app.example.com,http://localhost:4100",
        CORS_ALLOW_CREDENTIALS="true",
    )
    result = run_portico("config", "check", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "configuration is valid" in result.stdout
