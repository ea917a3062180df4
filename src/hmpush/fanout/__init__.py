"""Campaigns: one message to a token list of any size, with a global rate and crash-safe resume.

```python
from hmpush import AsyncPushClient, Campaign
from hmpush.messages import prepare

async with AsyncPushClient("key.json") as client:
    campaign = Campaign(client, prepare(payload), "tokens.txt", "out/", rate=20_000)
    summary = await campaign.run()
```

Run the same code again after a crash and it resumes; see `hmpush.fanout._campaign` for the
exact guarantee. Results land in the output directory (`outcomes.jsonl`, `invalid-tokens.txt`,
`unknown-tokens.txt`, `rejected-lines.jsonl`, `summary.json`) beside the state
(`campaign.sqlite`, `tokens.spool`).
"""

from __future__ import annotations

from hmpush.fanout._campaign import (
    Campaign,
    CampaignError,
    CampaignOutcome,
    CampaignProgress,
    CampaignSummary,
    InFlightPolicy,
)
from hmpush.fanout._input import RejectedLine, TokenInputError
from hmpush.fanout._plan import PlanReport
from hmpush.fanout._planned import PlannedTokens, batch_outcome_lines
from hmpush.fanout._resolve import (
    NOT_RECEIVED,
    EmulatorRequestLog,
    InFlightBatch,
    InFlightResolver,
    batch_tag,
)

__all__ = [
    "NOT_RECEIVED",
    "Campaign",
    "CampaignError",
    "CampaignOutcome",
    "CampaignProgress",
    "CampaignSummary",
    "EmulatorRequestLog",
    "InFlightBatch",
    "InFlightPolicy",
    "InFlightResolver",
    "PlanReport",
    "PlannedTokens",
    "RejectedLine",
    "TokenInputError",
    "batch_outcome_lines",
    "batch_tag",
]
