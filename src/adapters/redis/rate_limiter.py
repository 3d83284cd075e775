"""A rate limiter in Redis: GCRA in one Lua script, so it is atomic and shared by every process."""

from redis.asyncio import Redis
from redis.exceptions import RedisError

from application.common.ports.rate_limits import (
    RateLimit,
    RateLimitDecision,
    RateLimiter,
    RateLimiterUnavailableError,
)

# KEYS[1]: the key. ARGV: limit, window (ms). Time comes from Redis itself, so
# every API process agrees on it. Returns {allowed, remaining, retry_after_ms}.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local interval = window / limit
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local candidate = tat + interval
local allow_at = candidate - window
if now < allow_at then
  return {0, 0, math.ceil(allow_at - now)}
end
redis.call('SET', KEYS[1], tostring(candidate), 'PX', math.ceil(candidate - now))
return {1, math.floor((window - (candidate - now)) / interval), 0}
"""


_REFUND = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat then return 0 end
local earlier = tat - tonumber(ARGV[2]) / tonumber(ARGV[1])
if earlier <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], tostring(earlier), 'PX', math.ceil(earlier - now))
end
return 1
"""


class RedisRateLimiter(RateLimiter):
    """The `RateLimiter` port on Redis; keys are prefixed, and expire when idle."""

    def __init__(self, client: "Redis", *, prefix: str = "portico:ratelimit:") -> None:
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(_GCRA)
        self._refund = client.register_script(_REFUND)

    async def acquire(self, key: str, rate: RateLimit) -> RateLimitDecision:
        """Count one event if allowed, atomically."""
        try:
            allowed, remaining, retry_ms = await self._script(
                keys=[self._prefix + key], args=[rate.limit, rate.window_seconds * 1000]
            )
        except (RedisError, OSError) as exc:
            raise RateLimiterUnavailableError(type(exc).__name__) from exc
        retry = 0 if allowed else max(1, -(-int(retry_ms) // 1000))
        return RateLimitDecision(
            allowed=bool(allowed), remaining=max(0, int(remaining)), retry_after_seconds=retry
        )

    async def refund(self, key: str, rate: RateLimit) -> None:
        """Give back one counted event, atomically."""
        try:
            await self._refund(
                keys=[self._prefix + key], args=[rate.limit, rate.window_seconds * 1000]
            )
        except (RedisError, OSError) as exc:
            raise RateLimiterUnavailableError(type(exc).__name__) from exc
