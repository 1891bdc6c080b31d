"""Access to the MLflow tracking store and registry, and the translation of MLflow's errors.

MLflow signals everything with one `MlflowException` and an error code, and wraps a dead server in a
message about connection pools. The fronts need to tell "you typed a bad filter" from "the server is
down" from "that run does not exist", so every MLflow call goes through `translate_errors`.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from registry.errors import BadInput, NotFound, RegistryError, Unreachable
from registry.settings import Settings, mask_uri

log = logging.getLogger(__name__)

_CONNECTION_MARKERS = (
    "Max retries exceeded",
    "Failed to establish a new connection",
    "Connection refused",
    "Connection aborted",
    "Read timed out",
    "RemoteDisconnected",
    "EndpointConnectionError",
    "Could not connect to the endpoint URL",
    "database is locked",
    "unable to open database file",
    "could not connect to server",
)


def _looks_unreachable(message: str) -> bool:
    return any(marker in message for marker in _CONNECTION_MARKERS)


@contextmanager
def translate_errors(what: str) -> Iterator[None]:
    """Turn MLflow, HTTP, S3 and database errors raised inside into the service's typed errors.

    `what` names the operation in the message ("search runs", "read artifact x.json") so the user
    sees which part failed, not a stack trace.
    """
    try:
        yield
    except RegistryError:
        raise
    except MlflowException as exc:
        message = exc.message if hasattr(exc, "message") else str(exc)
        code = getattr(exc, "error_code", "")
        if code == "RESOURCE_DOES_NOT_EXIST":
            raise NotFound(f"{what}: {message}") from exc
        if code in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST", "INVALID_STATE"):
            raise BadInput(f"{what}: {message}") from exc
        if _looks_unreachable(message) or code in ("TEMPORARILY_UNAVAILABLE", "ENDPOINT_NOT_FOUND"):
            raise Unreachable(f"{what}: {_unreachable_summary(message)}") from exc
        raise RegistryError(f"{what}: {_first_line(message)}") from exc
    except (ConnectionError, TimeoutError, OSError) as exc:
        raise Unreachable(f"{what}: {_first_line(str(exc))}") from exc
    except Exception as exc:
        text = str(exc)
        if _looks_unreachable(text):
            raise Unreachable(f"{what}: {_first_line(text)}") from exc
        raise


def _unreachable_summary(message: str) -> str:
    """'API request to http://h:p/api/... failed with <pool noise>' → 'http://h:p did not answer'."""
    match = re.search(r"API request to (\S+?)/(?:ajax-)?api/", message)
    where = match.group(1) if match else "the store"
    if "error responses" in message:  # the server answered, with 5xx: its own backend is the problem
        return f"{where} answered with server errors; its database or artifact store may be down"
    cause = next(
        (m for m in _CONNECTION_MARKERS if m in message and m != "Max retries exceeded"), "no answer"
    )
    return f"{where} did not answer ({cause.lower()}); check that it is running and reachable"


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return line[:limit]


def configure_environment(settings: Settings) -> None:
    """Apply the settings MLflow only reads from the environment.

    A dashboard must answer "the server is down" in seconds, so MLflow's default of seven retries
    with backoff and a 120 s timeout is lowered unless the user set them.
    """
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(settings.http_retries))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(settings.http_timeout_s))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    if settings.s3_endpoint_url:
        os.environ["MLFLOW_S3_ENDPOINT_URL"] = settings.s3_endpoint_url
    if settings.is_embedded:
        settings.home.mkdir(parents=True, exist_ok=True)


def make_client(settings: Settings) -> MlflowClient:
    """An MlflowClient on the configured tracking and registry URIs."""
    configure_environment(settings)
    for uri in dict.fromkeys((settings.effective_tracking_uri, settings.effective_registry_uri)):
        probe_database(uri, settings.http_timeout_s)
    with translate_errors(f"connect to {mask_uri(settings.effective_tracking_uri)}"):
        return MlflowClient(
            tracking_uri=settings.effective_tracking_uri, registry_uri=settings.effective_registry_uri
        )


def probe_database(uri: str, timeout_s: float) -> None:
    """Fail in seconds when a database tracking store does not answer.

    MLflow's SQL store retries its first connection ten times with backoff (about 100 s) before it
    says anything; one connection with a connect timeout answers the same question at once.
    """
    if not uri.startswith(("postgresql", "mysql", "mssql")):
        return
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    timeout = {"connect_timeout": max(1, round(timeout_s))}
    try:
        engine = create_engine(uri, connect_args=timeout, poolclass=_null_pool())
        with engine.connect():
            pass
    except (SQLAlchemyError, OSError) as exc:
        cause = str(getattr(exc, "orig", exc)).strip().splitlines()
        reason = cause[0] if cause else exc.__class__.__name__
        raise Unreachable(
            f"tracking store {mask_uri(uri)} did not answer ({reason}); is it running?"
        ) from exc
    except ImportError as exc:  # no driver installed for this database: MLflow will say so itself
        log.debug("no probe for %s: %s", mask_uri(uri), exc)


def _null_pool() -> type:
    from sqlalchemy.pool import NullPool

    return NullPool
