"""argon2id password hashing in a bounded thread pool, so the event loop never waits on it."""

import asyncio
import logging
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher as Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from application.users.ports import PasswordHasher
from domain.users.values import Password

OWASP_MIN_MEMORY_KIB = 19 * 1024
OWASP_MIN_TIME_COST = 2
_log = logging.getLogger(__name__)


class Argon2PasswordHasher(PasswordHasher):
    """The `PasswordHasher` port on argon2-cffi (argon2id).

    At most `max_concurrency` hashes run at once, each in a worker thread (argon2-cffi
    releases the GIL), so a burst of sign-ins queues instead of exhausting memory:
    each hash holds `memory_kib` of RAM while it runs. Parameters below OWASP's minimum
    (19 MiB, t=2, p=1) are refused.

    On Linux the worker threads lower their own CPU priority by `niceness` steps. Hashing
    is CPU-bound and the loop mostly waits, so while sign-ins keep every core busy the
    scheduler would otherwise make a loop with work to do wait its turn behind a hash; at
    10 steps the loop gets a core as soon as it needs one. Hashing keeps all the CPU the
    loop leaves, so sign-in throughput does not drop (`bench/README.md`).
    """

    def __init__(
        self,
        *,
        time_cost: int,
        memory_kib: int,
        parallelism: int,
        max_concurrency: int,
        niceness: int = 0,
    ) -> None:
        if memory_kib < OWASP_MIN_MEMORY_KIB or time_cost < OWASP_MIN_TIME_COST:
            raise ValueError("argon2 parameters are below OWASP's minimum (19 MiB, t=2)")
        self._argon2 = Argon2(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            type=Type.ID,
        )
        self._executor = ThreadPoolExecutor(
            max_workers=max_concurrency,
            thread_name_prefix="argon2",
            initializer=_lower_priority,
            initargs=(niceness,),
        )
        self._dummy_hash = self._argon2.hash("portico: a password nobody has")

    async def hash(self, password: Password) -> str:
        """Hash in the pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._argon2.hash, password.value)

    async def verify(self, password_hash: str | None, password: Password) -> bool:
        """Verify in the pool; a missing hash costs a real verification of a dummy one."""
        loop = asyncio.get_running_loop()
        target = password_hash if password_hash is not None else self._dummy_hash
        matches = await loop.run_in_executor(self._executor, self._check, target, password.value)
        return matches and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash's parameters differ from the configured ones."""
        try:
            return self._argon2.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    def close(self) -> None:
        """Let the worker threads finish and go."""
        self._executor.shutdown(wait=True)

    def _check(self, password_hash: str, plain: str) -> bool:
        try:
            return self._argon2.verify(password_hash, plain)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def _lower_priority(niceness: int) -> None:
    """Lower the calling thread's priority; on Linux a nice value belongs to each thread."""
    if niceness <= 0 or not sys.platform.startswith("linux"):
        return
    thread = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, current + niceness))
    except OSError as exc:
        _log.warning("hashing threads keep the loop's priority: %s", exc)
