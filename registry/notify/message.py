"""What a webhook receives: the audit event as JSON, a one-line `text`, and an HMAC signature.

Pure functions, so the wording and the signature are tested without a network. The `text` field is
what Slack and Teams incoming webhooks show as is; everything else is for programs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from typing import Any
from urllib.parse import urlsplit

from registry.audit.log import Attempt
from registry.domain.labels import version_label as _v

SIGNATURE_HEADER = "X-Registry-Signature"
TIMESTAMP_HEADER = "X-Registry-Timestamp"
EVENT_HEADER = "X-Registry-Event"
PAYLOAD_TYPE = "registry.audit"
BACKOFF_BASE_S = 10.0
BACKOFF_CAP_S = 3600.0

_VERBS = {  # action: (infinitive, past)
    "promote": ("promote", "promoted"),
    "archive": ("archive", "archived"),
    "rollback": ("roll back", "rolled back"),
    "register": ("register", "registered"),
    "describe": ("describe", "described"),
}
_OUTCOME_MARK = {
    "done": "✅",
    "refused": "⛔ Refused:",
    "conflict": "⚠️ Conflict:",
    "failed": "❌ Failed:",
    "requested": "🕒 Requested:",
    "approved": "👍 Approved:",
    "rejected": "👎 Rejected:",
    "withdrawn": "↩️ Withdrawn:",
    "expired": "⌛ Expired:",
}


_ON_REQUEST = {  # what an approval request's events say the actor did
    "requested": "asks to",
    "approved": "approved the request to",
    "rejected": "rejected the request to",
    "withdrawn": "withdrew the request to",
    "expired": "let expire the request to",
}


def _slack_escape(text: str) -> str:
    """Slack reads `<...>` as links and mentions (`<!channel>`): store content must stay text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _object(a: Attempt) -> str:
    """What the action is about: "iris v3 to production (was v2)"."""
    if a.action == "promote":
        return f"{a.model} {_v(a.to_version)} to {a.target} (was {_v(a.from_version)})"
    if a.action == "rollback":
        return f"{a.model} {a.target} to {_v(a.to_version)} (was {_v(a.from_version)})"
    if a.action in _VERBS:
        return f"{a.model} {_v(a.to_version)}"
    return f"{a.model} {a.target}: {_v(a.from_version)} → {_v(a.to_version)}"


def describe_change(a: Attempt) -> str:
    """The change in words, as done: "promoted iris v3 to production (was v2)"."""
    past = _VERBS.get(a.action, (a.action, a.action))[1]
    return f"{past} {_object(a)}"


def event_text(a: Attempt) -> str:
    """One line for people: who did what to which model, why, and how it ended."""
    mark = _OUTCOME_MARK.get(a.outcome, f"[{a.outcome}]")
    if a.outcome == "done":
        line = f"{mark} {a.actor} {describe_change(a)}"
    else:
        verb = _VERBS.get(a.action, (a.action, a.action))[0]
        tried = _ON_REQUEST.get(a.outcome, "tried to")
        line = f"{mark} {a.actor} {tried} {verb} {_object(a)}"
        if a.error:
            line += f". {a.error}"
    if a.forced:
        line += " [forced past the metric gate]"
    if a.reason:
        line += f". Reason: {a.reason}"
    return _slack_escape(line)


def payload(a: Attempt, event_id: str) -> dict[str, Any]:
    return {"type": PAYLOAD_TYPE, "id": event_id, "text": event_text(a), "event": a.as_dict()}


def encode(body: dict[str, Any]) -> bytes:
    """Compact, key-sorted JSON: the exact bytes that are signed and sent."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>." + body), as GitHub and Slack sign theirs.

    The timestamp is inside the signature so a receiver can refuse a replayed old delivery."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signed: str) -> bool:
    """What a receiver does (and the tests' receiver does): constant-time comparison."""
    return hmac.compare_digest(signature(secret, timestamp, body), signed or "")


def target_id(url: str) -> str:
    """A webhook as the outbox stores it: a hash, so tokens in URLs never land in the database."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def mask_target(url: str) -> str:
    """A webhook as people see it: scheme and host only (Slack's path is the secret)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/… ({target_id(url)[:6]})"


def backoff_s(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before the next try after `attempts` failed ones: doubling from 10 s, capped at an hour,
    with ±20% jitter so replicas retrying one dead receiver do not hit it in step."""
    base = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1))
    return base * (rng or random).uniform(0.8, 1.2)
