"""A rate limit in tokens per second shared by every worker: a token bucket in Redis.

One hash per campaign (``hmpush:dist:<campaign>:bucket``) holds the bucket and its adaptive rate;
three Lua scripts change it atomically, reading the time from Redis itself so that workers'
clocks never matter:

- `acquire(n)`: refill at the current rate (the bucket holds one second of the rate, or one
  request if larger), take `n` tokens if there are enough, else answer how long to wait;
- `on_flow_control(retry_after)`: HTTP 503 halves the shared rate (at most once a second, so a
  burst of 503s from many workers is one signal), empties the bucket and pauses every worker for
  the server's `Retry-After`;
- `on_accepted()`: each quiet second gives back a tenth of the configured rate (AIMD, as the
  single-machine campaign does).

Every grant is also counted per Redis second in ``hmpush:dist:<campaign>:granted`` (second →
tokens), so anyone can check what the workers really sent at any moment.
"""

from __future__ import annotations

import time

import redis

from hmpush.distributed._store import campaign_key

# Same constants as the single-machine campaign's limiter (`hmpush.fanout._rate`).
DECREASE_FACTOR = 0.5
INCREASE_FRACTION = 0.1
ADJUST_INTERVAL = 1.0
MINIMUM_FRACTION = 0.01
UNLIMITED_PAUSE = 1.0
# Longest single sleep between two asks, so a worker notices a rate that recovered.
MAX_SLEEP = 1.0
GRANTED_TTL_SECONDS = 7 * 24 * 3600

_NOW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
"""

# KEYS: bucket, granted. ARGV: tokens wanted, configured rate (0 = unlimited), granted TTL.
_ACQUIRE = (
    _NOW
    + """
local wanted = tonumber(ARGV[1])
local target = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'rate', 'tokens', 'updated', 'paused_until')
local paused_until = tonumber(state[4]) or 0
if paused_until > now then return tostring(paused_until - now) end
if target > 0 then
  local rate = tonumber(state[1]) or target
  local capacity = math.max(rate, wanted)
  local tokens = tonumber(state[2]) or capacity
  local updated = tonumber(state[3]) or now
  tokens = math.min(capacity, tokens + math.max(0, now - updated) * rate)
  if tokens < wanted then
    redis.call('HSET', KEYS[1], 'rate', rate, 'tokens', tokens, 'updated', now)
    return tostring((wanted - tokens) / rate)
  end
  redis.call('HSET', KEYS[1], 'rate', rate, 'tokens', tokens - wanted, 'updated', now)
end
redis.call('HINCRBY', KEYS[2], tostring(math.floor(now)), wanted)
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
return '0'
"""
)

# KEYS: bucket. ARGV: Retry-After seconds (negative = none), configured rate (0 = unlimited).
_FLOW_CONTROL = (
    _NOW
    + f"""
local retry_after = tonumber(ARGV[1])
local target = tonumber(ARGV[2])
local pause = math.max(retry_after, 0)
if target <= 0 then pause = math.max(pause, {UNLIMITED_PAUSE}) end
local state = redis.call('HMGET', KEYS[1], 'rate', 'paused_until', 'last_decrease', 'lowest')
local paused_until = math.max(tonumber(state[2]) or 0, now + pause)
redis.call('HSET', KEYS[1], 'paused_until', paused_until)
redis.call('HINCRBY', KEYS[1], 'flow_control', 1)
if target > 0 and now - (tonumber(state[3]) or 0) >= {ADJUST_INTERVAL} then
  local rate = (tonumber(state[1]) or target) * {DECREASE_FACTOR}
  rate = math.max(target * {MINIMUM_FRACTION}, rate)
  local lowest = math.min(tonumber(state[4]) or target, rate)
  redis.call('HSET', KEYS[1], 'rate', rate, 'tokens', 0, 'updated', now,
             'last_decrease', now, 'last_change', now, 'lowest', lowest)
end
return tostring(paused_until - now)
"""
)

# KEYS: bucket. ARGV: configured rate.
_ACCEPTED = (
    _NOW
    + f"""
local target = tonumber(ARGV[1])
if target <= 0 then return 0 end
local state = redis.call('HMGET', KEYS[1], 'rate', 'last_change')
local rate = tonumber(state[1]) or target
if rate >= target or now - (tonumber(state[2]) or 0) < {ADJUST_INTERVAL} then return 0 end
rate = math.min(target, rate + target * {INCREASE_FRACTION})
redis.call('HSET', KEYS[1], 'rate', rate, 'last_change', now)
return 1
"""
)


class RedisRateLimiter:
    """The campaign's shared token bucket; see the module docstring."""

    def __init__(
        self, client: redis.Redis, campaign_id: str, tokens_per_second: float | None
    ) -> None:
        if tokens_per_second is not None and tokens_per_second <= 0:
            raise ValueError(f"rate must be a positive number of tokens/s, got {tokens_per_second}")
        self.target = tokens_per_second or 0.0
        self.bucket_key = campaign_key(campaign_id, "bucket")
        self.granted_key = campaign_key(campaign_id, "granted")
        self._redis = client
        self._acquire = client.register_script(_ACQUIRE)
        self._flow_control = client.register_script(_FLOW_CONTROL)
        self._accepted = client.register_script(_ACCEPTED)

    def try_acquire(self, tokens: int) -> float:
        """Take `tokens` now if allowed (0.0), else the seconds to wait before asking again."""
        answer = self._acquire(
            keys=[self.bucket_key, self.granted_key],
            args=[tokens, repr(self.target), GRANTED_TTL_SECONDS],
        )
        return float(answer)

    def acquire(self, tokens: int) -> None:
        """Wait until `tokens` more tokens may be sent by this worker."""
        while (wait := self.try_acquire(tokens)) > 0:
            time.sleep(min(wait, MAX_SLEEP))

    def on_flow_control(self, retry_after: float | None) -> float:
        """The server answered 503: slow every worker down; the pause now in force, in seconds."""
        seconds = -1.0 if retry_after is None else retry_after
        answer = self._flow_control(keys=[self.bucket_key], args=[repr(seconds), repr(self.target)])
        return float(answer)

    def on_accepted(self) -> None:
        """A request went through: recover the shared rate step by step."""
        self._accepted(keys=[self.bucket_key], args=[repr(self.target)])

    def state(self) -> dict[str, float]:
        """The bucket's fields (rate, tokens, lowest, flow_control, ...) as numbers."""
        raw: dict[bytes, bytes] = self._redis.hgetall(self.bucket_key)  # type: ignore[assignment]
        return {key.decode(): float(value) for key, value in raw.items()}

    def granted_per_second(self) -> dict[int, int]:
        """Tokens granted in each second (Redis clock, Unix seconds)."""
        raw: dict[bytes, bytes] = self._redis.hgetall(self.granted_key)  # type: ignore[assignment]
        return {int(key): int(value) for key, value in raw.items()}
