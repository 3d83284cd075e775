"""The production container wires no test stand-in: nothing from `adapters.memory`.

A single process with no Redis, Kafka, SMS gateway or push key (`make run`) runs on the
stand-ins in `adapters.inprocess`; the in-memory twins in `adapters.memory` are for tests,
which reach them only through `InMemoryPersistenceProvider` or by building them directly.
"""

import ast
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from dishka import AsyncContainer, Scope
from dishka.exceptions import NoActiveFactoryError

from application.common.ports.cache import Cache
from application.common.ports.rate_limits import RateLimiter
from application.common.ports.realtime import RealtimeBroadcaster
from application.notifications.ports import PushSender, SmsSender
from entrypoints.config import load_settings
from entrypoints.ioc import make_container

TEST_ONLY = "adapters.memory"
ENTRYPOINTS = Path(__file__).resolve().parents[2] / "src" / "entrypoints"
TEST_OVERRIDES = ENTRYPOINTS / "ioc" / "memory.py"
STAND_INS = (Cache, RateLimiter, RealtimeBroadcaster, SmsSender, PushSender)


@pytest.fixture
async def container(tmp_path: Path) -> AsyncIterator[AsyncContainer]:
    """The production wiring with no optional service configured, as `make run` has it."""
    settings = load_settings(
        {
            "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
            "DATA_DIR": str(tmp_path),
            "JWT_SECRET": "s" * 32,
        },
        env_file=None,
    )
    container = make_container(settings)
    try:
        yield container
    finally:
        await container.close()


def provided_types(container: AsyncContainer, scope: Scope) -> Iterator[Any]:
    """Every type the container resolves in `scope`, one per key (decorated ones once)."""
    registries = [container.registry]
    while (child := registries[-1].child_registry) is not None:
        registries.append(child)
    (registry,) = [registry for registry in registries if registry.scope is scope]
    for key in registry.factories:
        if key.depth == 0 and key.component == "":
            yield key.type_hint


def instances(provided: object) -> list[object]:
    """`provided`, or the items of a collected sequence."""
    return list(provided) if isinstance(provided, list | tuple) else [provided]


async def test_the_production_container_provides_nothing_from_the_memory_adapters(
    container: AsyncContainer,
) -> None:
    resolved: dict[object, object] = {}
    async with container() as request:
        for scope, scoped in ((Scope.APP, container), (Scope.REQUEST, request)):
            for hint in provided_types(container, scope):
                try:
                    resolved[hint] = await scoped.get(hint)
                except NoActiveFactoryError:
                    continue
    assert len(resolved) > 100
    wired = {
        hint: type(instance).__module__
        for hint, provided in resolved.items()
        for instance in instances(provided)
    }
    assert [hint for hint, module in wired.items() if module.startswith(TEST_ONLY)] == []
    assert {wired[port] for port in STAND_INS} == {
        "adapters.inprocess.cache",
        "adapters.inprocess.rate_limiter",
        "adapters.inprocess.realtime",
        "adapters.inprocess.sms",
        "adapters.inprocess.push",
    }


def test_only_the_test_overrides_import_the_memory_adapters() -> None:
    importers: list[Path] = []
    for module in sorted(ENTRYPOINTS.rglob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            if any(name.startswith(f"{TEST_ONLY}.") for name in names):
                importers.append(module)
    assert set(importers) == {TEST_OVERRIDES}
