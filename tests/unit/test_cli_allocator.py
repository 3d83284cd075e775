"""`portico` tunes granian's allocator before granian is imported, unless the operator did."""

import os
import subprocess
import sys

import pytest

from entrypoints.cli import GRANIAN_ALLOCATOR_CONF, GRANIAN_ALLOCATOR_ENV

_SHOW = (
    "import os, sys, types\n"
    "import entrypoints.cli as cli\n"
    "stub = types.ModuleType('entrypoints.cli.commands')\n"
    "stub.run = lambda: print('granian' in sys.modules)\n"
    "sys.modules['entrypoints.cli.commands'] = stub\n"
    "cli.main()\n"
    "print(os.environ.get(cli.GRANIAN_ALLOCATOR_ENV))\n"
)
"""Runs `main` with the commands stubbed: was granian loaded when they ran, and the setting."""


def _run(env: dict[str, str]) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _SHOW], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.split()


@pytest.mark.parametrize(
    ("given", "expected"),
    [(None, GRANIAN_ALLOCATOR_CONF), ("dirty_decay_ms:0", "dirty_decay_ms:0")],
    ids=["default", "operator's own"],
)
def test_the_allocator_setting_is_set_before_granian_loads(
    given: str | None, expected: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != GRANIAN_ALLOCATOR_ENV}
    if given is not None:
        env[GRANIAN_ALLOCATOR_ENV] = given
    granian_loaded, setting = _run(env)
    assert setting == expected
    assert granian_loaded == "False", "jemalloc reads its setting when granian loads"
