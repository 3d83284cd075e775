"""The metrics settings: what each mode needs, the token kept out of sight, and the directory
the processes of one `portico serve` count into."""

import os
from pathlib import Path

import pytest

from entrypoints.config import ConfigurationError, load_settings
from entrypoints.multiprocess_metrics import (
    PROMETHEUS_MULTIPROC_DIR,
    multiprocess_directory,
    multiprocess_directory_in_use,
)

TOKEN = "k" * 32


def test_metrics_are_off_unless_asked_for() -> None:
    settings = load_settings({}, env_file=None)
    assert settings.metrics.mode == "off"
    assert not settings.metrics.enabled


@pytest.mark.parametrize("token", [None, "k" * 31, "é" * 15])
def test_token_mode_refuses_a_missing_or_short_token_without_echoing_it(token: str | None) -> None:
    env = {"METRICS_MODE": "token", **({"METRICS_TOKEN": token} if token else {})}
    with pytest.raises(ConfigurationError) as refused:
        load_settings(env, env_file=None)
    assert refused.value.variable == "METRICS_TOKEN"
    assert token is None or token not in str(refused.value)


def test_token_mode_with_a_long_enough_token_starts() -> None:
    settings = load_settings({"METRICS_MODE": "token", "METRICS_TOKEN": TOKEN}, env_file=None)
    assert settings.metrics.enabled
    assert TOKEN not in repr(settings)


@pytest.mark.parametrize("clash", [{"APP_PORT": "9464"}, {"METRICS_WORKER_PORT": "9464"}])
def test_port_mode_needs_a_port_of_its_own(clash: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="METRICS_PORT"):
        load_settings({"METRICS_MODE": "port", "METRICS_PORT": "9464", **clash}, env_file=None)


def test_a_token_is_not_needed_when_it_is_not_used() -> None:
    settings = load_settings({"METRICS_MODE": "port", "METRICS_TOKEN": "short"}, env_file=None)
    assert settings.metrics.mode == "port"


def test_a_configured_directory_is_emptied_of_old_counts_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PROMETHEUS_MULTIPROC_DIR, raising=False)
    (tmp_path / "counter_123.db").write_bytes(b"old")
    (tmp_path / "notes.txt").write_text("the operator's")
    with multiprocess_directory(tmp_path) as directory:
        assert directory == tmp_path
        assert os.environ[PROMETHEUS_MULTIPROC_DIR] == str(tmp_path)
        assert multiprocess_directory_in_use() == tmp_path
        assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert PROMETHEUS_MULTIPROC_DIR not in os.environ
    assert (tmp_path / "notes.txt").exists(), "a configured directory outlives the server"


def test_without_one_a_temporary_directory_lives_as_long_as_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PROMETHEUS_MULTIPROC_DIR, "/somewhere/else")
    with multiprocess_directory(None) as directory:
        assert directory.is_dir()
        (directory / "counter_1.db").write_bytes(b"x")
        assert multiprocess_directory_in_use() == directory
    assert not directory.exists()
    assert os.environ[PROMETHEUS_MULTIPROC_DIR] == "/somewhere/else"
