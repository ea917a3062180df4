"""What workers share in Redis: each campaign's settings and each batch's outcome.

Keys, all under ``hmpush:dist:<campaign>:``:

- ``config``: hash of the campaign's settings (message body, push-type, endpoint, where workers
  find the credentials, rate, batch and token counts); never the key itself;
- ``batches``: hash of batch number → JSON record ``{"state", "owner", ...}``;
- ``bucket``, ``granted``: the shared rate limit (see `_rate`).

A batch record moves ``(none) → in_flight → done | unknown | refused``, each step one atomic Lua
script, so a task delivered twice (Celery `acks_late` after a worker died, or a broker
redelivery) finds the batch's record and never sends it again:

- ``in_flight`` is claimed just before the request is written, with the claiming execution's
  ``owner`` id. Another execution that finds a batch in flight under another owner cannot know
  whether that request reached the server, so it marks the batch ``unknown`` (reported, never
  resent: the single-machine campaign's ``--in-flight report``). If the first execution is in fact
  alive, its answer still lands: ``done`` is recorded for the owner whatever the state says.
- a whole-request refusal that accepted nothing (503, 5xx, connection refused) releases the claim
  so the same execution can try again.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import orjson
import redis

KEY_PREFIX = "hmpush:dist:"
CAMPAIGN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

ClaimAnswer = Literal["claimed", "in_flight", "done", "unknown", "refused"]

# KEYS[1] batches hash; ARGV: batch, owner, the in-flight record (JSON).
_CLAIM = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 'claimed'
end
local record = cjson.decode(current)
if record.state == 'in_flight' and record.owner ~= ARGV[2] then
  record.state = 'unknown'
  record.error = 'found in flight by a second execution of its task (worker lost?)'
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(record))
  return 'unknown'
end
return record.state
"""

# KEYS[1] batches hash; ARGV: batch, owner, the final record (JSON). Only the owner records.
_FINISH = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
if cjson.decode(current).owner ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""

# KEYS[1] batches hash; ARGV: batch, owner. The owner's request was refused whole: unclaim.
_RELEASE = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
local record = cjson.decode(current)
if record.owner ~= ARGV[2] or record.state == 'done' then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
"""


def check_campaign_id(campaign_id: str) -> str:
    """The campaign id if usable in Redis keys and file names, else ValueError naming the rule."""
    if not CAMPAIGN_ID.match(campaign_id):
        raise ValueError(
            f"campaign id {campaign_id!r} must be 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return campaign_id


def campaign_key(campaign_id: str, part: str) -> str:
    """The Redis key of one part of a campaign's shared state."""
    return f"{KEY_PREFIX}{campaign_id}:{part}"


class CampaignStore:
    """A campaign's settings and batch records in Redis."""

    def __init__(self, client: redis.Redis, campaign_id: str) -> None:
        self.redis = client
        self.campaign_id = check_campaign_id(campaign_id)
        self.config_key = campaign_key(campaign_id, "config")
        self.batches_key = campaign_key(campaign_id, "batches")
        self._claim = client.register_script(_CLAIM)
        self._finish = client.register_script(_FINISH)
        self._release = client.register_script(_RELEASE)

    # --- settings -----------------------------------------------------------------------------

    def config(self) -> dict[str, str] | None:
        """The campaign's settings, or None if it was never enqueued."""
        raw: dict[bytes, bytes] = self.redis.hgetall(self.config_key)  # type: ignore[assignment]
        if not raw:
            return None
        return {key.decode(): value.decode() for key, value in raw.items()}

    def version(self) -> str:
        """What tells one enqueueing of this campaign id from another (settings cache key)."""
        values: list[bytes | None] = self.redis.hmget(  # type: ignore[assignment]
            self.config_key, ["fingerprint", "created_at_ms"]
        )
        return ":".join(value.decode() if value else "" for value in values)

    def save_config(self, settings: dict[str, str]) -> bool:
        """Record the settings unless the campaign exists; True if they were recorded."""
        created = self.redis.hsetnx(self.config_key, "fingerprint", settings["fingerprint"])
        if not created:
            return False
        self.redis.hset(self.config_key, mapping=dict(settings.items()))
        return True

    # --- batch records ------------------------------------------------------------------------

    def record(self, batch: int) -> dict[str, Any] | None:
        """One batch's record, or None if no task has claimed it."""
        raw = self.redis.hget(self.batches_key, str(batch))
        return orjson.loads(raw) if raw else None

    def records(self, batches: list[int]) -> list[dict[str, Any] | None]:
        """The records of several batches (None where unclaimed), in the order asked."""
        if not batches:
            return []
        raw: list[bytes | None] = self.redis.hmget(  # type: ignore[assignment]
            self.batches_key, [str(batch) for batch in batches]
        )
        return [orjson.loads(item) if item else None for item in raw]

    def all_records(self) -> dict[int, dict[str, Any]]:
        """Every claimed batch's record (scanned in pages)."""
        found: dict[int, dict[str, Any]] = {}
        for field, value in self.redis.hscan_iter(self.batches_key, count=1000):
            found[int(field)] = orjson.loads(value)
        return found

    def claim(self, batch: int, owner: str, size: int, sent_at_ms: int) -> ClaimAnswer:
        """Claim the batch for sending now; anything but "claimed" means: do not send it."""
        record = {"state": "in_flight", "owner": owner, "size": size, "sentAtMs": sent_at_ms}
        answer = self._claim(
            keys=[self.batches_key], args=[str(batch), owner, orjson.dumps(record)]
        )
        return _text(answer)  # type: ignore[return-value]

    def finish(self, batch: int, owner: str, record: dict[str, Any]) -> bool:
        """Record the owner's final outcome of the batch; False if the claim was not its own."""
        record = {**record, "owner": owner}
        done = self._finish(keys=[self.batches_key], args=[str(batch), owner, orjson.dumps(record)])
        return bool(done)

    def release(self, batch: int, owner: str) -> bool:
        """Give the claim back after a refusal that accepted nothing."""
        return bool(self._release(keys=[self.batches_key], args=[str(batch), owner]))

    def delete(self) -> None:
        """Forget the campaign's settings, records and rate state."""
        self.redis.delete(
            self.config_key,
            self.batches_key,
            campaign_key(self.campaign_id, "bucket"),
            campaign_key(self.campaign_id, "granted"),
        )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
