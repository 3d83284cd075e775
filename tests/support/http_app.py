"""The HTTP app as the in-process integration tests build it: the real container and routes,
plus test routes that echo, fail and hold, and a provider whose Redis probe is down; and
`register`, which signs a user up through such an app and returns the access token.
"""

import asyncio
import io
import json
import tempfile
from collections.abc import Sequence
from typing import Annotated, Any

import msgspec
from dishka import Provider, Scope, provide
from litestar import Litestar, post
from litestar.params import JSONBody
from litestar.testing import AsyncTestClient

from adapters.memory.health import InMemoryHealthProbe
from application.common.errors import ConflictError, NotFoundError
from application.health.ports import HealthProbe
from domain.shared.errors import DomainError
from entrypoints.config import load_settings
from entrypoints.http.app import create_app
from entrypoints.http.auth import PUBLIC
from entrypoints.ioc import make_container

LIMIT = 4096


class Greeting(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
    times: Annotated[int, msgspec.Meta(ge=1, le=10)] = 1


@post("/test/echo", status_code=200, opt=PUBLIC)
async def echo(data: JSONBody[Greeting]) -> Greeting:
    return data


@post("/test/boom", opt=PUBLIC)
async def boom() -> None:
    raise RuntimeError("internal detail: password=hunter2 at /srv/app/secret.py")


@post("/test/missing", opt=PUBLIC)
async def missing() -> None:
    raise NotFoundError("does not exist", field="article")


@post("/test/rule", opt=PUBLIC)
async def broken_rule() -> None:
    raise DomainError("an article needs a title")


IN_FLIGHT = {"now": 0, "most": 0}


@post("/test/hold", status_code=200, opt=PUBLIC)
async def hold() -> None:
    IN_FLIGHT["now"] += 1
    IN_FLIGHT["most"] = max(IN_FLIGHT["most"], IN_FLIGHT["now"])
    await asyncio.sleep(0.02)
    IN_FLIGHT["now"] -= 1


@post("/test/conflict", opt=PUBLIC)
async def conflict() -> None:
    raise ConflictError("has already been taken", field="username")


class FailingRedis(Provider):
    @provide(scope=Scope.APP, override=True)
    def probes(self) -> Sequence[HealthProbe]:
        redis = InMemoryHealthProbe("redis")
        redis.fail_with(ConnectionRefusedError("refused"))
        return [InMemoryHealthProbe("database"), redis]


def build_app(url: str, *overrides: Provider, **env: str) -> Litestar:
    data_dir = tempfile.mkdtemp(prefix="portico-http-app-")
    settings = load_settings(
        {"DATABASE_URL": url, "MAX_REQUEST_BODY_BYTES": str(LIMIT), "DATA_DIR": data_dir, **env},
        env_file=None,
    )
    handlers = [echo, boom, missing, conflict, broken_rule, hold]
    return create_app(make_container(settings, *overrides), settings, extra_handlers=handlers)


async def register(client: AsyncTestClient[Litestar], name: str) -> str:
    response = await client.post(
        "/api/users",
        json={"user": {"username": name, "email": f"{name}@test.com", "password": "password123"}},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["user"]["token"])


def records(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]
