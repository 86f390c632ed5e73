"""Notify's own vital signs: what each transport did with the emails, and bounces coming back.

The alerts on email failures and bounce spikes read these (monitoring/alerts.yml).
"""

from __future__ import annotations

from prometheus_client import Counter

EMAILS = Counter(
    "notify_emails_total",
    "Sends by transport and outcome: sent, rejected (for good), transient_error, timeout.",
    ["transport", "outcome"],
)
BOUNCES = Counter(
    "notify_bounces_total", "Addresses suppressed after a bounce or complaint.", ["kind"]
)
