"""Sending what the outbox holds: one pass (`deliver_due`), a worker loop, and a background pass.

Delivery is at least once: a row is marked delivered only after the receiver answered 2xx, so a
worker that dies mid-send leaves the row to be sent again when its claim lapses (receivers dedupe
on the `X-Registry-Event` id). A failed try is retried with doubling backoff until
`notify_max_attempts`, then kept as `failed` for the Overview to show.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from registry.notify import outbox
from registry.notify.message import (
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    backoff_s,
    mask_target,
    signature,
    target_id,
)
from registry.settings import Settings

log = logging.getLogger("registry.notify")
CLAIM_MARGIN_S = 30.0
MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class PassReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def tried(self) -> int:
        return self.delivered + self.retrying + self.failed


def _error_text(exc: BaseException | None, response: httpx.Response | None, url: str) -> str:
    """Why a try failed, with the URL (which may hold a token) replaced by its masked form."""
    if response is not None:
        said = f"HTTP {response.status_code} {response.reason_phrase}".strip()
    else:
        said = f"{exc.__class__.__name__}: {exc}" if exc else "unknown error"
    return said.replace(url, mask_target(url))[:MAX_ERROR_CHARS]


def send(url: str, body: bytes, event_id: str, secret: str, timeout_s: float) -> httpx.Response:
    """POST one signed body; the timestamp is taken now, so each retry carries a fresh one."""
    stamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", EVENT_HEADER: event_id, TIMESTAMP_HEADER: stamp}
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, stamp, body)
    with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
        return client.post(url, content=body, headers=headers)


def deliver_due(
    engine: Engine, settings: Settings, now: datetime | None = None, limit: int = 50
) -> PassReport:
    """Send every due delivery once; `now` lets tests step past a backoff without waiting."""
    urls = {target_id(u): u for u in settings.notify_urls}
    lease = settings.notify_timeout_s + CLAIM_MARGIN_S
    delivered = retrying = failed = 0
    for item in outbox.claim_due(engine, lease, limit, now):
        url = urls.get(item.target)
        if url is None:
            outbox.mark_failed(engine, item, "this webhook is no longer configured", None, now)
            failed += 1
            continue
        response: httpx.Response | None = None
        error: BaseException | None = None
        try:
            response = send(url, item.body, item.event_id, settings.notify_secret, settings.notify_timeout_s)
        except httpx.HTTPError as exc:
            error = exc
        if response is not None and response.is_success:
            outbox.mark_delivered(engine, item, now)
            delivered += 1
            continue
        text = _error_text(error, response, url)
        tries = item.attempts + 1
        if tries >= settings.notify_max_attempts:
            outbox.mark_failed(engine, item, f"gave up after {tries} tries: {text}", None, now)
            failed += 1
        else:
            at = (now or datetime.now(UTC)) + timedelta(seconds=backoff_s(tries))
            outbox.mark_failed(engine, item, text, at, now)
            retrying += 1
        log.warning("notification to %s failed (try %d): %s", mask_target(url), tries, text)
    return PassReport(delivered, retrying, failed)


def run_worker(
    engine: Engine,
    settings: Settings,
    interval_s: float = 5.0,
    stop: threading.Event | None = None,
    on_pass: Callable[[PassReport], None] | None = None,
) -> None:
    """`python -m registry notify run`: deliver what is due every `interval_s` until stopped."""
    stop = stop or threading.Event()
    outbox.ensure_table(engine)
    while not stop.is_set():
        try:
            report = deliver_due(engine, settings)
        except Exception:  # a database hiccup must not end the worker; the next pass tries again
            log.exception("notification pass failed")
        else:
            if on_pass:
                on_pass(report)
        stop.wait(interval_s)


class BackgroundDelivery:
    """After an action, one delivery pass in a daemon thread, so the action never waits on a webhook.

    One pass at a time per process; a kick during a pass makes it go round once more, so an event
    queued meanwhile is not left for the worker's next interval."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._lock = threading.Lock()
        self._again = threading.Event()
        self._thread: threading.Thread | None = None

    def kick(self) -> None:
        with self._lock:
            self._again.set()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="registry-notify", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                if not self._again.is_set():
                    self._thread = None
                    return
                self._again.clear()
            try:
                deliver_due(self.engine, self.settings)
            except Exception:  # logged; the worker or the next action's pass retries
                log.exception("background notification pass failed")

    def wait(self, timeout_s: float = 30.0) -> bool:
        """Tests: until the current pass (if any) ends; True when idle."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            with self._lock:
                if self._thread is None:
                    return True
            time.sleep(0.05)
        return False


def notify_wiring(audit: Any, settings: Settings, urls: tuple[str, ...]) -> bool:
    """Make sure the outbox table exists before the first event; False (logged) when it cannot be
    made, e.g. on a read-only audit database, where no event can be recorded either."""
    try:
        outbox.ensure_table(audit.engine)
    except SQLAlchemyError:
        log.exception("notifications are off: the outbox table cannot be created at %s", audit.url)
        return False
    return True


@dataclass(frozen=True)
class NotificationStatus:
    targets: tuple[str, ...]  # masked
    outbox: outbox.OutboxStatus
    signed: bool

    def as_dict(self) -> dict[str, Any]:
        return {"targets": list(self.targets), "signed": self.signed, **self.outbox.as_dict()}


def notification_status(engine: Engine, settings: Settings) -> NotificationStatus:
    targets = tuple(mask_target(u) for u in settings.notify_urls)
    try:
        counts = outbox.status(engine)
    except (OperationalError, ProgrammingError):  # no outbox table yet: nothing was ever queued
        counts = outbox.OutboxStatus()
    return NotificationStatus(targets, counts, bool(settings.notify_secret))
