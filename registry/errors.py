"""One home for the service's typed errors.

Every front (Streamlit pages, the CLI, the MCP server) maps these to a message or an exit code in one
place, so a refusal reads the same wherever it happens and no front shows a traceback.
"""

from __future__ import annotations

from registry.redaction import redact


class RegistryError(Exception):
    """Base of every error the service raises on purpose; `exit_code` is the CLI's.

    Its text is masked on the way in (registry/redaction.py): whatever an MLflow, HTTP or database
    error quoted back, `str(exc)` is what every front shows and what the audit log stores.
    """

    exit_code = 1
    kind = "error"

    def __init__(self, *args: object) -> None:
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))


class BadInput(RegistryError):
    """The caller asked for something malformed: a bad filter, a missing reason, an unknown option."""

    exit_code = 2
    kind = "bad input"


class NotFound(BadInput):
    """A run, experiment, model, version or artifact that does not exist."""

    kind = "not found"


class Refused(RegistryError):
    """A guard said no: the actor is not a lead, a check failed, the gate failed without force."""

    exit_code = 3
    kind = "refused"


class Conflict(RegistryError):
    """Someone else changed the model between plan and apply; re-plan and look again."""

    exit_code = 4
    kind = "conflict"


class Unreachable(RegistryError):
    """The tracking server, registry, artifact store or audit database did not answer."""

    exit_code = 5
    kind = "unreachable"
