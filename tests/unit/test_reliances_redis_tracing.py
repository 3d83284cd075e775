"""The redis-py internals the Redis spans read: what a pipeline queued, and its mode.

What each failure says, and what to do then: tests/support/reliance.py.
"""

from adapters.opentelemetry.redis import TracedPipeline, TracedRedis
from tests.support.reliance import Reliance

WHERE = "adapters/opentelemetry/redis.py (TracedRedis, TracedPipeline)"


def test_redis_py_builds_the_traced_client_and_pipelines_keep_their_commands_in_a_stack() -> None:
    with Reliance("redis", where=WHERE) as redis:
        client = TracedRedis.from_url("redis://127.0.0.1:1/0")
        redis.check(isinstance(client, TracedRedis), "from_url no longer builds the subclass")
        pipeline = client.pipeline(transaction=False)
        redis.check(isinstance(pipeline, TracedPipeline), "pipeline() is not the traced one")
        pipeline.incr("k")
        pipeline.expire("k", 10)
        queued = [args[0] for args, _options in pipeline.command_stack]
        redis.check(queued == ["INCRBY", "EXPIRE"], f"command_stack holds {queued}")
        redis.check(
            (pipeline.is_transaction, pipeline.explicit_transaction) == (False, False),
            "a plain pipeline's mode attributes changed",
        )
        redis.check(client.pipeline().is_transaction, "pipeline() is no longer MULTI by default")
