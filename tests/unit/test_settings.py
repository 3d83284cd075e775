import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from loguru import logger
from typer.testing import CliRunner

from entrypoints.cli.commands import app
from entrypoints.cli.common import settings_or_exit
from entrypoints.config import ConfigurationError, Settings, load_settings
from entrypoints.config.loader import SettingSpec, setting_specs
from entrypoints.logs import configure_logging

STRONG_SECRET = "s" * 32
AUDIT_KEY = "a" * 32
PRODUCTION = {
    "APP_ENV": "production",
    "JWT_SECRET": STRONG_SECRET,
    "AUDIT_SIGNING_KEY": AUDIT_KEY,
    "DATABASE_URL": "postgresql://db/a",
    "APP_PUBLIC_URL": "https://portico.example.com",
}
"""Settings that pass every production rule; a test drops or overrides the one it breaks."""


def load(**env: str) -> Settings:
    return load_settings(env, env_file=None)


def test_defaults_run_in_development_with_nothing_configured() -> None:
    settings = load()
    assert settings.app.env == "development"
    assert settings.database.url is None
    assert settings.cache.redis_url is None
    assert settings.app.port == 8000


def test_fixed_variable_names_reach_their_sections() -> None:
    settings = load(
        APP_ENV="test",
        DATABASE_URL="postgresql://u:p@db:5432/app",
        REDIS_URL="redis://cache:6379/0",
        KAFKA_BOOTSTRAP_SERVERS="k1:9092,k2:9092",
        SMTP_HOST="mail",
        SMTP_PORT="2525",
        JWT_SECRET=STRONG_SECRET,
    )
    assert settings.app.env == "test"
    assert settings.database.url == "postgresql://u:p@db:5432/app"
    assert settings.cache.redis_url == "redis://cache:6379/0"
    assert settings.kafka.bootstrap_servers == "k1:9092,k2:9092"
    assert (settings.mail.smtp_host, settings.mail.smtp_port) == ("mail", 2525)
    assert settings.auth.jwt_secret == STRONG_SECRET


@pytest.mark.parametrize(
    ("env", "variable", "fragment"),
    [
        ({"APP_PORT": "eighty"}, "APP_PORT", "expected an integer; got 'eighty'"),
        ({"APP_PORT": "0"}, "APP_PORT", ">= 1"),
        ({"SMTP_PORT": "70000"}, "SMTP_PORT", "<= 65535"),
        ({"APP_ENV": "prod"}, "APP_ENV", "expected one of development, production, test"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT", "expected one of json, text"),
        ({"DATABASE_ECHO": "maybe"}, "DATABASE_ECHO", "expected true or false"),
        ({"DATABASE_POOL_SIZE": "-1"}, "DATABASE_POOL_SIZE", ">= 1"),
        ({"READINESS_TIMEOUT_SECONDS": "soon"}, "READINESS_TIMEOUT_SECONDS", "a number"),
        ({"DATABASE_URL": "mysql://root@db/app"}, "DATABASE_URL", "unsupported scheme"),
        ({"REDIS_URL": "http://cache"}, "REDIS_URL", "unsupported scheme 'http'"),
        ({"REDIS_URL": "redis://127.0.0.1:notaport/0"}, "REDIS_URL", "notaport"),
        ({"KAFKA_BOOTSTRAP_SERVERS": "k1:9092,nope"}, "KAFKA_BOOTSTRAP_SERVERS", "'nope'"),
        ({"AUDIT_SIGNING_KEY": "short"}, "AUDIT_SIGNING_KEY", "at least 32 bytes, got 5"),
        ({"AUDIT_SIGNING_KEY": "k" * 31}, "AUDIT_SIGNING_KEY", "at least 32 bytes, got 31"),
        ({"AUDIT_SIGNING_KEY": "é" * 15}, "AUDIT_SIGNING_KEY", "at least 32 bytes, got 30"),
        ({"JWT_SECRET": "short"}, "JWT_SECRET", "at least 32 bytes for HS256, got 5"),
        (
            {"JWT_SECRET": "k" * 48, "JWT_ALGORITHM": "HS512"},
            "JWT_SECRET",
            "at least 64 bytes for HS512, got 48",
        ),
        (
            {"JWT_SECRET": "k" * 40, "JWT_ALGORITHM": "HS384"},
            "JWT_SECRET",
            "at least 48 bytes for HS384, got 40",
        ),
        ({"TRUSTED_PROXIES": "10.0.0.0/8, lb"}, "TRUSTED_PROXIES", "'lb'"),
        ({"STORAGE_BACKEND": "s3"}, "S3_BUCKET", "must be set when STORAGE_BACKEND=s3"),
        (
            {"STORAGE_BACKEND": "s3", "S3_BUCKET": "b", "FILES_ATTACHMENT_MAX_BYTES": str(1 << 37)},
            "FILES_ATTACHMENT_MAX_BYTES",
            "10,000 parts",
        ),
        ({"S3_ACCESS_KEY_ID": "AKIA"}, "S3_ACCESS_KEY_ID", "together"),
        ({"S3_ENDPOINT_URL": "minio:9000"}, "S3_ENDPOINT_URL", "http(s)://"),
    ],
)
def test_an_invalid_value_names_its_variable_in_one_line(
    env: dict[str, str], variable: str, fragment: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(**env)
    assert caught.value.variable == variable
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_bad_secret_is_never_echoed_back() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(JWT_SECRET="hunter2-hunter2")
    assert "hunter2" not in str(caught.value)


def test_a_bad_audit_signing_key_is_never_echoed_back() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(AUDIT_SIGNING_KEY="hunter2-hunter2")
    assert caught.value.variable == "AUDIT_SIGNING_KEY"
    assert "hunter2" not in str(caught.value)


def test_production_refuses_to_start_without_a_jwt_secret() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(APP_ENV="production", DATABASE_URL="postgresql://db/app")
    assert caught.value.variable == "JWT_SECRET"


def test_production_refuses_a_short_jwt_secret() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(APP_ENV="production", JWT_SECRET="short", DATABASE_URL="postgresql://db/app")
    assert caught.value.variable == "JWT_SECRET"


def test_production_refuses_to_start_without_an_audit_signing_key() -> None:
    without_key = {k: v for k, v in PRODUCTION.items() if k != "AUDIT_SIGNING_KEY"}
    with pytest.raises(ConfigurationError) as caught:
        load(**without_key)
    assert caught.value.variable == "AUDIT_SIGNING_KEY"
    assert str(caught.value).startswith("AUDIT_SIGNING_KEY: ")
    assert "APP_ENV=production" in caught.value.problem
    assert "\n" not in str(caught.value)


def test_outside_production_the_audit_signing_key_may_be_unset() -> None:
    assert load(APP_ENV="test").audit.signing_key is None


@pytest.mark.parametrize("key", ["k" * 31, "é" * 15 + "k"])
def test_production_refuses_an_audit_signing_key_under_32_bytes(key: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(**{**PRODUCTION, "AUDIT_SIGNING_KEY": key})
    assert caught.value.variable == "AUDIT_SIGNING_KEY"
    assert "at least 32 bytes, got 31" in caught.value.problem


def test_an_audit_signing_key_is_measured_in_bytes_not_characters() -> None:
    key = "é" * 16
    assert load(**{**PRODUCTION, "AUDIT_SIGNING_KEY": key}).audit.signing_key == key


def test_production_refuses_the_embedded_database() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(APP_ENV="production", JWT_SECRET=STRONG_SECRET, AUDIT_SIGNING_KEY=AUDIT_KEY)
    assert caught.value.variable == "DATABASE_URL"


def test_production_starts_with_explicit_secrets_database_and_https_public_url() -> None:
    settings = load(**PRODUCTION)
    assert settings.is_production
    assert settings.audit.signing_key == AUDIT_KEY


@pytest.mark.parametrize(
    "public_url",
    [None, "http://portico.example.com", "https://", "portico.example.com", "https://[::1"],
)
def test_production_refuses_a_public_url_that_is_not_https(public_url: str | None) -> None:
    given = {} if public_url is None else {"APP_PUBLIC_URL": public_url}
    without_url = {k: v for k, v in PRODUCTION.items() if k != "APP_PUBLIC_URL"}
    with pytest.raises(ConfigurationError) as caught:
        load(**without_url, **given)
    assert caught.value.variable == "APP_PUBLIC_URL"
    assert "https://" in caught.value.problem
    assert "\n" not in str(caught.value)


def test_production_opens_a_waiting_room_for_the_auth_message_only_under_uvicorn() -> None:
    """granian buffers a whole frame, up to 16 MiB, before the app can refuse it."""
    assert load(**PRODUCTION).websocket.max_unauthenticated == 0
    with pytest.raises(ConfigurationError) as caught:
        load(**PRODUCTION, WS_MAX_UNAUTHENTICATED="10")
    assert caught.value.variable == "WS_MAX_UNAUTHENTICATED"
    assert "APP_SERVER=uvicorn" in caught.value.problem
    assert load(**PRODUCTION, WS_MAX_UNAUTHENTICATED="10", APP_SERVER="uvicorn").app.server
    assert load(WS_MAX_UNAUTHENTICATED="10").websocket.max_unauthenticated == 10


def test_outside_production_the_public_url_may_be_plain_http() -> None:
    assert load(APP_PUBLIC_URL="http://localhost:8000").app.public_url == "http://localhost:8000"


def test_empty_values_count_as_unset() -> None:
    assert load(DATABASE_URL="", APP_PORT=" ").database.url is None


def test_the_environment_wins_over_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("APP_PORT=9000\nLOG_FORMAT=json\n")
    settings = load_settings({"APP_PORT": "9100"}, env_file=env_file)
    assert settings.app.port == 9100
    assert settings.app.log_format == "json"


def test_the_env_file_is_found_through_portico_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / "custom.env"
    env_file.write_text("APP_NAME=from-file\n")
    settings = load_settings({"PORTICO_ENV_FILE": str(env_file)})
    assert settings.app.name == "from-file"


@pytest.mark.parametrize(
    "spec", [spec for spec in setting_specs() if spec.secret], ids=lambda spec: spec.variable
)
def test_every_secret_is_masked_in_the_repr_of_the_settings(spec: SettingSpec) -> None:
    secret = "q" * 40
    defaults = Settings()
    section = msgspec.structs.replace(getattr(defaults, spec.section), **{spec.field: secret})
    settings = msgspec.structs.replace(defaults, **{spec.section: section})
    assert secret not in repr(settings)
    assert secret not in str(settings)
    assert f"{spec.field}='***'" in repr(section)


@pytest.fixture
def nothing_configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting from this process's environment, and no `.env` in the working directory."""
    monkeypatch.chdir(tmp_path)
    for spec in setting_specs():
        monkeypatch.delenv(spec.variable, raising=False)
    monkeypatch.delenv("PORTICO_ENV_FILE", raising=False)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Undo a command's logging set-up, so no later test sees libraries routed into loguru."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    configure_logging(level="INFO", json_format=False)
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("nothing_configured", "restore_logging")
@pytest.mark.parametrize("variable", ["JWT_SECRET", "AUDIT_SIGNING_KEY"])
def test_config_show_masks_each_signing_key(variable: str) -> None:
    secret = "q" * 40
    table = CliRunner().invoke(app, ["config", "show"], env={variable: secret})
    assert table.exit_code == 0, table.output
    (row,) = [line for line in table.stdout.splitlines() if line.startswith(f"{variable} ")]
    assert row.split() == [variable, "environment", "***"]
    as_json = CliRunner().invoke(app, ["config", "show", "--json"], env={variable: secret})
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)[variable] == {"value": "***", "source": "environment"}
    assert secret not in table.stdout + as_json.stdout


@pytest.mark.usefixtures("nothing_configured", "restore_logging")
@pytest.mark.parametrize("variable", ["JWT_SECRET", "AUDIT_SIGNING_KEY"])
@pytest.mark.parametrize("database", [None, "postgresql://u:pg-pass@db/app"])
def test_the_cli_scrubs_each_signing_key_from_its_logs(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    database: str | None,
) -> None:
    """With or without a database URL to parse, the logging a command sets up hides the key."""
    secret = "q" * 40
    monkeypatch.setenv(variable, secret)
    if database is not None:
        monkeypatch.setenv("DATABASE_URL", database)
    settings_or_exit()
    logger.info("signing with {}", secret)
    logged = capsys.readouterr().err
    assert "signing with ***" in logged
    assert secret not in logged


def test_every_variable_is_unique_and_described() -> None:
    specs = setting_specs()
    names = [spec.variable for spec in specs]
    assert len(names) == len(set(names))
    assert all(spec.description for spec in specs)


def test_the_configuration_reference_in_docs_is_current(project_root: Path) -> None:
    generated = subprocess.run(
        [str(Path(sys.executable).with_name("portico")), "config", "reference"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout
    reference = (project_root / "docs" / "configuration.md").read_text()
    assert generated.strip() in reference, "run `portico config reference` and update the docs"


def test_env_example_lists_every_variable(project_root: Path) -> None:
    example = (project_root / ".env.example").read_text()
    missing = [s.variable for s in setting_specs() if f"{s.variable}=" not in example]
    assert missing == []


def test_jobs_on_redis_need_redis() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({"JOBS_QUEUE": "redis"}, env_file=None)
    assert caught.value.variable == "JOBS_QUEUE"
    assert "REDIS_URL" in str(caught.value)
    settings = load_settings(
        {"JOBS_QUEUE": "redis", "REDIS_URL": "redis://127.0.0.1:6379/0"}, env_file=None
    )
    assert settings.queue.backend == "redis"


def test_the_sms_gateway_needs_all_four_settings() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({"SMS_BASE_URL": "https://api.twilio.com"}, env_file=None)
    assert caught.value.variable == "SMS_BASE_URL"
    full = {
        "SMS_BASE_URL": "https://api.twilio.com",
        "SMS_ACCOUNT_SID": "AC1",
        "SMS_AUTH_TOKEN": "secret",
        "SMS_FROM": "+15005550006",
    }
    assert "secret" not in repr(load_settings(full, env_file=None).sms)


def test_a_vapid_key_that_is_not_a_p256_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(PUSH_VAPID_PRIVATE_KEY="not-a-key-at-all")
    assert caught.value.variable == "PUSH_VAPID_PRIVATE_KEY"
    assert "not-a-key-at-all" not in str(caught.value)


def test_the_keys_portico_push_keys_prints_are_accepted() -> None:
    printed = CliRunner().invoke(app, ["push", "keys"])
    assert printed.exit_code == 0, printed.output
    private_key = printed.output.splitlines()[0].removeprefix("PUSH_VAPID_PRIVATE_KEY=")
    assert load(PUSH_VAPID_PRIVATE_KEY=private_key).push.vapid_private_key == private_key
