"""Delivering alert notifications to the configured webhook, with retries.

Notifications wait in ``alert_notifications`` (queued in the transaction that raised, cleared or
acknowledged the alert), so a fleet restart loses none. Each is POSTed as JSON; a 2xx answer
delivers it, anything else (or no answer) schedules another attempt after an exponentially
growing delay (``backoff_initial_s`` doubling up to ``backoff_max_s``) until ``max_attempts``,
when it is marked ``failed`` (kept, visible in the API).

Delivery is at least once: the receiver de-duplicates by the body's ``id`` (also sent as the
``Idempotency-Key`` header). With ``secret`` set, ``X-Ewp-Signature: sha256=<hex>`` is the
HMAC-SHA256 of the body with that secret. No database transaction is open during the HTTP call.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fleet.ops_settings import WebhookSettings
from fleet.store.models import Clock
from fleet.store.ops_models import AlertNotification
from fleet.version import software_version

log = logging.getLogger(__name__)


@dataclass
class DeliveryRound:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


def backoff(settings: WebhookSettings, attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt."""
    delay = settings.backoff_initial_s * 2 ** max(0, min(attempts - 1, 30))
    return timedelta(seconds=min(delay, settings.backoff_max_s))


class WebhookSender:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: WebhookSettings,
        *,
        clock: Clock,
        client: httpx.Client | None = None,
    ) -> None:
        self._sessions = sessions
        self.settings = settings
        self._clock = clock
        self._client = client or httpx.Client(timeout=settings.timeout_s)
        self._secret = (
            settings.secret.read("the alert webhook secret").encode()
            if settings.secret is not None
            else None
        )

    def close(self) -> None:
        self._client.close()

    def deliver_due(self, limit: int = 50) -> DeliveryRound:
        """Try every notification that is due (oldest first)."""
        result = DeliveryRound()
        if self.settings.url is None:
            return result
        with self._sessions() as session:
            due = [
                (n.id, n.payload, n.attempts)
                for n in session.scalars(
                    select(AlertNotification)
                    .where(
                        AlertNotification.state == "pending",
                        AlertNotification.next_attempt_at <= self._clock(),
                    )
                    .order_by(AlertNotification.id)
                    .limit(limit)
                )
            ]
            session.rollback()
        for notification_id, payload, attempts in due:
            error = self._post(notification_id, payload)
            self._record(notification_id, attempts + 1, error, result)
        return result

    def _post(self, notification_id: int, payload: str) -> str | None:
        assert self.settings.url is not None
        body = payload.encode("utf-8")
        headers = {
            "content-type": "application/json",
            "idempotency-key": f"ewp-alert-notification-{notification_id}",
            "user-agent": f"ewp-fleet/{software_version()}",
        }
        if self._secret is not None:
            digest = hmac.new(self._secret, body, hashlib.sha256).hexdigest()
            headers["x-ewp-signature"] = f"sha256={digest}"
        try:
            response = self._client.post(self.settings.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}: {response.text[:200]}"

    def _record(
        self, notification_id: int, attempts: int, error: str | None, result: DeliveryRound
    ) -> None:
        now: datetime = self._clock()
        with self._sessions() as session:
            notification = session.get(AlertNotification, notification_id)
            if notification is None or notification.state != "pending":
                session.rollback()
                return
            notification.attempts = attempts
            if error is None:
                notification.state, notification.delivered_at = "delivered", now
                notification.last_error = None
                result.delivered += 1
            elif attempts >= self.settings.max_attempts:
                notification.state, notification.last_error = "failed", error
                result.failed += 1
                log.error(
                    "alert notification %d not delivered after %d attempts: %s; it stays in "
                    "the fleet (GET /api/v1/alerts/notifications); check the webhook URL",
                    notification_id,
                    attempts,
                    error,
                )
            else:
                notification.last_error = error
                notification.next_attempt_at = now + backoff(self.settings, attempts)
                result.retrying += 1
                log.warning(
                    "alert notification %d: attempt %d failed (%s); next at %s",
                    notification_id,
                    attempts,
                    error,
                    notification.next_attempt_at.isoformat(timespec="seconds"),
                )
            session.commit()
