"""Messages, retry limits and a TLS certificate shared by the client tests."""

from __future__ import annotations

from hmpush.client import RetryPolicy
from hmpush.messages import AlertPayload, ClickAction, FormUpdatePayload, Notification

# Tiny back-offs keep retry tests fast; the budget still allows every configured attempt.
# Unanswered requests are resent too (not the default), so that every retry path is exercised.
FAST_RETRY = RetryPolicy(
    max_attempts=4,
    max_total_seconds=30.0,
    initial_backoff=0.001,
    max_backoff=0.01,
    retry_unanswered=True,
)


def notification(title: str = "Order shipped") -> AlertPayload:
    """A plain push-type 0 notification that opens the app's home page."""
    return AlertPayload(
        notification=Notification(
            category="MARKETING",
            title=title,
            body="Your parcel is on its way.",
            click_action=ClickAction(action_type=0),
        )
    )


def widget_refresh() -> FormUpdatePayload:
    """A push-type 1 widget refresh."""
    return FormUpdatePayload(
        form_id=1,
        version=1,
        module_name="entry",
        form_name="weather",
        ability_name="WeatherWidget",
        form_data={"temperature": 21},
    )
