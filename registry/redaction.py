"""Secrets out of every message: the one choke point errors, audit rows and fronts pass through.

Passwords reach messages by many roads: a tracking URI with `user:password@` quoted back by MLflow
or urllib3 ("API request to http://alice:pw@host/... failed"), a driver echoing its DSN, a
`password=` in a connection string, an `Authorization: Bearer` header in an HTTP error. Masking
each place that builds a message misses the next one, so `redact` is applied where messages leave
the service: every `RegistryError` redacts itself (its `str` is what the CLI, the MCP server and
the pages show), the audit log redacts what it stores, and the fronts redact the one-line summary
of an unexpected error.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from typing import Any

MASK = "***"
# Variables whose values are secrets: a value seen verbatim in a message is masked wherever it is.
SECRET_ENV = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "REGISTRY_HEADER_SECRET",
    "REGISTRY_MCP_TOKENS",
    "DATABRICKS_TOKEN",
    "AZURE_STORAGE_ACCESS_KEY",
    "AZURE_STORAGE_CONNECTION_STRING",
)
_MIN_SECRET_LEN = 4  # shorter values would mask ordinary words

# scheme://user:password@host → scheme://user:***@host (user-only userinfo names nobody's secret)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s/?#@:]*):[^\s/?#@]*@")
# password=..., token: ..., "secret": "...", AWS_SECRET_ACCESS_KEY=... (in DSNs, query strings, JSON)
# (a colon only after a quoted key: "password": "x" in JSON, never "the header secret: ..." in prose)
_KEY_VALUE = re.compile(
    r"(?i)(\b[\w.\-]*(?:password|passwd|pwd|secret|token|api[_\-]?key|access[_\-]?key|credential|signature)s?"
    r"[\w\-]*(?:\s*=|[\"']\s*:)\s*[\"']?)([^\s\"'&;,)}\]]+)"
)
_AUTH_HEADER = re.compile(
    r"(?i)\b(authorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic|token)?\s*)([^\s\"',;]+)"
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)([A-Za-z0-9\-._~+/]{8,}=*)")


def redact(text: object) -> str:
    """`text` with anything that looks like a credential replaced by ***."""
    out = str(text)
    if not out:
        return out
    out = _USERINFO.sub(rf"\1:{MASK}@", out)
    out = _AUTH_HEADER.sub(rf"\1{MASK}", out)
    out = _BEARER.sub(rf"\1{MASK}", out)
    out = _KEY_VALUE.sub(_mask_value, out)
    for value in _secret_values():
        out = out.replace(value, MASK)
    return out


def _mask_value(match: re.Match[str]) -> str:
    if match.group(2) == MASK or "plan_token" in match.group(1).lower():  # a plan token is no secret
        return match.group(0)
    return match.group(1) + MASK


def _secret_values() -> list[str]:
    values = [os.environ.get(name, "") for name in SECRET_ENV]
    # REGISTRY_MCP_TOKENS is `actor=token,...`: each token is a secret of its own (the names are not)
    values += [p.partition("=")[2] for p in os.environ.get("REGISTRY_MCP_TOKENS", "").split(",")]
    return sorted({v.strip() for v in values if len(v.strip()) >= _MIN_SECRET_LEN}, key=len, reverse=True)


def redact_log_records() -> None:
    """Mask secrets in every log record this process makes, MLflow's and urllib3's included.

    A logged exception quotes the URI it failed on (`log.exception(...)` in a front, a retry warning
    in urllib3); handlers and formatters are the host's (Streamlit's, pytest's), so the records are
    cleaned where they are made: the message with its arguments, and the traceback text, which
    formatters reuse when set. Installed once, by `Registry` (every front connects through it).
    """
    global _previous_factory
    if _previous_factory is not None:
        return
    _previous_factory = previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is the logging module's to report
            return record
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)


_previous_factory: Callable[..., logging.LogRecord] | None = None
