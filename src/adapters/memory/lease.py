"""An exclusive lease among the holders that share one registry, in one process."""

from application.common.ports.lease import ExclusiveLease


class InMemoryLease(ExclusiveLease):
    """The `ExclusiveLease` port for tests; a scheduler always leads on PostgreSQL.

    Holders that share `registry` (the names held) exclude each other, as processes sharing
    one database do.
    """

    def __init__(self, registry: set[str], *, name: str) -> None:
        self._registry = registry
        self._name = name
        self._held = False

    async def try_acquire(self) -> bool:
        """Take the name unless another holder has it."""
        if not self._held and self._name not in self._registry:
            self._registry.add(self._name)
            self._held = True
        return self._held

    async def is_held(self) -> bool:
        """Whether this holder has the name."""
        return self._held

    async def release(self) -> None:
        """Give the name back."""
        if self._held:
            self._registry.discard(self._name)
            self._held = False
