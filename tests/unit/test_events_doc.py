"""docs/events.md lists every domain event with its payload fields."""

import dataclasses
import importlib
import pkgutil
import re
from pathlib import Path

import domain
from domain.shared.events import DomainEvent


def every_event() -> list[type[DomainEvent]]:
    for module in pkgutil.walk_packages(domain.__path__, "domain."):
        importlib.import_module(module.name)
    found: list[type[DomainEvent]] = []
    stack: list[type[DomainEvent]] = [DomainEvent]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if isinstance(getattr(cls, "event_type", None), str) and cls.__module__.startswith(
            "domain."
        ):
            found.append(cls)
    return found


def test_every_event_and_its_payload_is_documented(project_root: Path) -> None:
    rows = {
        match[1]: match[2]
        for match in re.finditer(
            r"^\| `([a-z_.]+)` \| [^|]+ \| ([^|]*) \|",
            (project_root / "docs/events.md").read_text(),
            re.MULTILINE,
        )
    }
    events = every_event()
    assert len(events) >= 16
    for cls in events:
        assert cls.event_type in rows, f"{cls.event_type} is missing from docs/events.md"
        fields = [
            f.name for f in dataclasses.fields(cls) if f.name not in {"aggregate_id", "occurred_at"}
        ]
        for name in fields:
            assert f"`{name}`" in rows[cls.event_type], f"{cls.event_type}: `{name}` undocumented"
