"""`python -m registry webhooks serve|install`: MLflow's own webhooks, recorded in the audit log.

A change made in MLflow's UI or with the plain client reaches the History page as it happens when the
tracking server delivers its webhooks here (MLflow 3.x with a SQL backend; an embedded store or a
server you do not control is covered by detection instead, registry/audit/observe.py).

The receiver is a small ASGI app (Starlette under uvicorn), bound to 127.0.0.1 unless told otherwise.
It takes a delivery only when MLflow's HMAC signature over `<delivery id>.<timestamp>.<body>` checks
out with the shared secret (MLflow's Standard Webhooks scheme, mlflow/webhooks/delivery.py, checked
on 3.17.2) and its timestamp is recent, so an unsigned, forged or replayed delivery is refused (401).
A redelivery of one already recorded (MLflow retries on 5xx with the same id) answers 200 again and
records nothing. `install` registers the receiver on the tracking server with a generated secret,
kept in a file only its owner can read, never printed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from registry.audit.deliveries import EVENTS, parse_delivery, record_delivery
from registry.errors import BadInput, Conflict, NotFound, Refused, RegistryError, Unreachable
from registry.fronts.listen import check_listen
from registry.service import Registry
from registry.settings import Settings
from registry.store.client import translate_errors

# MLflow's header names and signature version (mlflow/webhooks/constants.py, 3.17.2).
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
SIGNATURE_HEADER = "X-MLflow-Signature"
SIGNATURE_VERSION = "v1"
TOLERANCE_S = 300  # a delivery signed longer ago than this is a replay (Standard Webhooks' default)
MAX_BODY_BYTES = 1024 * 1024
PATH = "/mlflow/webhooks"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8799
WEBHOOK_NAME = "registry-dashboard"
SECRET_FILE = "webhook-secret"
SECRET_ENV = "REGISTRY_WEBHOOK_SECRET"


def signature(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """MLflow's signature of a delivery: `v1,` + base64(HMAC-SHA256(secret, id.timestamp.body))."""
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def verify(secret: str, headers: dict[str, str], body: bytes, now: float | None = None) -> str:
    """The delivery id of a correctly signed, recent delivery; Refused otherwise."""
    delivery_id = headers.get(DELIVERY_ID_HEADER.lower(), "")
    timestamp = headers.get(TIMESTAMP_HEADER.lower(), "")
    signed = headers.get(SIGNATURE_HEADER.lower(), "")
    if not (delivery_id and timestamp and signed):
        raise Refused(
            "unsigned delivery: MLflow signs with the webhook's secret; set one with `webhooks install`"
        )
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        raise Refused("delivery timestamp is not a Unix time") from None
    if age > TOLERANCE_S:
        raise Refused(f"delivery signed {age:.0f} s ago (more than {TOLERANCE_S} s): a replay is refused")
    expected = signature(secret, delivery_id, timestamp, body)
    # Standard Webhooks allows several space-separated signatures (a secret being rotated).
    if not any(hmac.compare_digest(expected, given) for given in signed.split()):
        raise Refused("delivery signature does not match the webhook secret")
    return delivery_id


_STATUS = {Refused: 401, NotFound: 400, BadInput: 400, Conflict: 503, Unreachable: 503}


def build_app(reg: Registry, secret: str) -> Starlette:
    """The receiver: POST deliveries to PATH; GET /health answers while it runs."""

    async def receive(request: Request) -> JSONResponse:
        try:
            body = await request.body()
            if len(body) > MAX_BODY_BYTES:
                return JSONResponse({"error": "delivery too large"}, status_code=413)
            delivery_id = verify(secret, {k.lower(): v for k, v in request.headers.items()}, body)
            try:
                payload = json.loads(body)
            except ValueError as exc:
                raise BadInput(f"delivery body is not JSON: {exc}") from exc
            delivery = parse_delivery(delivery_id, payload)
            slots = None
            if delivery.entity == "model_version_alias":  # which of the model's aliases are slots
                try:
                    slots = await run_in_threadpool(reg.managed_aliases, delivery.model)
                except NotFound:  # deleted since: its aliases went with it; the defaults will do
                    slots = None
            said = await run_in_threadpool(record_delivery, reg.audit, reg.settings, delivery, slots)
        except RegistryError as exc:
            status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 500)
            return JSONResponse({"error": exc.kind, "message": str(exc)}, status_code=status)
        return JSONResponse({"delivery": delivery_id, "result": said})

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route(PATH, receive, methods=["POST"]), Route("/health", health)])


def secret_path(settings: Settings) -> Path:
    return settings.home / SECRET_FILE


def load_secret(settings: Settings) -> str:
    """REGISTRY_WEBHOOK_SECRET, else the file `install` wrote; BadInput when neither is there."""
    if os.environ.get(SECRET_ENV):
        return os.environ[SECRET_ENV]
    path = secret_path(settings)
    if path.exists():
        return path.read_text().strip()
    raise BadInput(
        f"no webhook secret: run `python -m registry webhooks install --url ...` first (it writes {path}), "
        f"or set {SECRET_ENV} to the secret the webhook was created with"
    )


def _save_secret(path: Path, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
    path.chmod(0o600)


def install(reg: Registry, url: str) -> dict[str, Any]:
    """Register the receiver at `url` on the tracking server, with a new secret saved beside the app."""
    from mlflow.entities.webhook import WebhookEvent

    if not url.startswith(("http://", "https://")):
        raise BadInput(f"--url {url!r}: give the receiver's full URL, e.g. https://host{PATH}")
    secret = secrets.token_urlsafe(32)
    events = [WebhookEvent(entity, action) for entity, action in EVENTS]
    with translate_errors("create the webhook on the tracking server"):
        hook = reg.client.create_webhook(
            name=WEBHOOK_NAME,
            url=url,
            events=list[Any](events),  # mlflow types the list invariantly: a copy of the wider type
            secret=secret,
            description="Changes made in MLflow directly, recorded in the registry dashboard's audit log",
        )
    path = secret_path(reg.settings)
    _save_secret(path, secret)
    return {
        "webhook_id": hook.webhook_id,
        "url": url,
        "events": [f"{e}.{a}" for e, a in EVENTS],
        "secret_file": str(path),
    }


def serve(reg: Registry, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve until stopped."""
    import uvicorn

    check_listen("webhook receiver", host, port)

    app = build_app(reg, load_secret(reg.settings))
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)
