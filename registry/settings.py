"""One typed settings object, read from MLflow's own environment variables and the dashboard's.

Users already configure MLflow through `MLFLOW_TRACKING_URI`, `MLFLOW_S3_ENDPOINT_URL` and `AWS_*`;
we read the same names so the dashboard points where their training code points. With nothing set
the dashboard runs on an embedded local store under `.local/` in the project folder.
"""

from __future__ import annotations

import getpass
import os
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from registry.errors import BadInput
from registry.redaction import redact

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SECRET_ENV = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
)


def _default_home() -> Path:
    return PROJECT_ROOT / ".local"


class Settings(BaseSettings):
    """Everything the service needs to know about where things are and who may act."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    home: Path = Field(default_factory=_default_home, validation_alias="REGISTRY_HOME")
    tracking_uri: str | None = Field(default=None, validation_alias="MLFLOW_TRACKING_URI")
    registry_uri: str | None = Field(default=None, validation_alias="MLFLOW_REGISTRY_URI")
    s3_endpoint_url: str | None = Field(default=None, validation_alias="MLFLOW_S3_ENDPOINT_URL")
    identity: Literal["local", "header", "oidc"] = Field(
        default="local", validation_alias="REGISTRY_IDENTITY"
    )
    actor: str = Field(default_factory=getpass.getuser, validation_alias="REGISTRY_ACTOR")
    leads_csv: str = Field(default="", validation_alias="REGISTRY_LEADS")
    admins_csv: str = Field(default="", validation_alias="REGISTRY_ADMINS")
    header_user: str = Field(default="X-Forwarded-Email", validation_alias="REGISTRY_HEADER_USER")
    header_secret_name: str = Field(
        default="X-Registry-Proxy-Secret", validation_alias="REGISTRY_HEADER_SECRET_NAME"
    )
    header_secret: str = Field(default="", validation_alias="REGISTRY_HEADER_SECRET", repr=False)
    # Gone: read only to refuse it (see _identity_is_provable).
    trusted_proxies_csv: str = Field(default="", validation_alias="REGISTRY_TRUSTED_PROXIES")
    # MCP over HTTP: `actor=token` pairs; empty: a token is made for REGISTRY_ACTOR at start.
    mcp_tokens: str = Field(default="", validation_alias="REGISTRY_MCP_TOKENS", repr=False)
    audit_url: str | None = Field(default=None, validation_alias="REGISTRY_AUDIT_URL")
    # Where the downsampled metric lines are kept (a sqlite:/// URL); default: beside the audit log.
    summary_cache: str | None = Field(default=None, validation_alias="REGISTRY_SUMMARY_CACHE_URL")
    # How long an audit write waits for a lock or a connection before the action gives up (Unreachable).
    audit_timeout_s: float = Field(default=30.0, gt=0, validation_alias="REGISTRY_AUDIT_TIMEOUT")
    # An applied change with no recorded result blocks other changes to its model for this long; after
    # that its process is presumed dead (the attempt stays `incomplete` in the history).
    change_lease_s: float = Field(default=300.0, ge=0, validation_alias="REGISTRY_CHANGE_LEASE")
    config_file: Path | None = Field(default=None, validation_alias="REGISTRY_CONFIG")
    # Where lifecycle policy comes from: the model's registry.* tags and the config file ("tags", the
    # config file wins), or the config file alone ("config"), for teams whose MLflow users may write
    # tags but must not change who may act. Also `[policy] source = "config"` in the config file.
    policy_source_env: Literal["tags", "config"] | None = Field(
        default=None, validation_alias="REGISTRY_POLICY_SOURCE"
    )
    production_alias: str = Field(default="production", validation_alias="REGISTRY_PRODUCTION_ALIAS")
    staging_alias: str = Field(default="staging", validation_alias="REGISTRY_STAGING_ALIAS")
    preview_max_bytes: int = Field(default=2 * 1024 * 1024, validation_alias="REGISTRY_PREVIEW_MAX_BYTES")
    http_timeout_s: int = Field(default=15, validation_alias="REGISTRY_HTTP_TIMEOUT")
    http_retries: int = Field(default=1, validation_alias="REGISTRY_HTTP_RETRIES")
    # Webhooks told of every audited change (registry/notify): URLs, the HMAC secret that signs them,
    # how long one delivery may take, and how many tries before a delivery is given up as failed.
    # An approval request not decided within this many seconds expires (default: three days).
    request_ttl_s: float = Field(default=259200.0, gt=0, validation_alias="REGISTRY_REQUEST_TTL")
    notify_urls_csv: str = Field(default="", validation_alias="REGISTRY_NOTIFY_URLS", repr=False)
    notify_secret: str = Field(default="", validation_alias="REGISTRY_NOTIFY_SECRET", repr=False)
    notify_timeout_s: float = Field(default=5.0, gt=0, validation_alias="REGISTRY_NOTIFY_TIMEOUT")
    notify_max_attempts: int = Field(default=15, ge=1, validation_alias="REGISTRY_NOTIFY_MAX_ATTEMPTS")
    notify_background: bool = Field(default=True, validation_alias="REGISTRY_NOTIFY_BACKGROUND")

    @model_validator(mode="after")
    def _identity_is_provable(self) -> Settings:
        """Refuse to start with an identity set-up that anyone could pass for.

        Trusting a proxy by its address was REGISTRY_TRUSTED_PROXIES: Streamlit's client address
        comes from uvicorn, which takes it from `X-Forwarded-For` (the client's to choose) when the
        peer is loopback or in FORWARDED_ALLOW_IPS, and reports none at all for a loopback peer.
        """
        if self.trusted_proxies_csv.strip():
            raise ValueError(
                "REGISTRY_TRUSTED_PROXIES is no longer supported: the client address comes from "
                "X-Forwarded-For, which any client can forge; have the proxy send REGISTRY_HEADER_SECRET "
                "(or terminate mTLS in a proxy that adds it), see docs/identity.md, and unset it"
            )
        if self.audit_url:
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError

            try:
                make_url(self.audit_url)
            except (ArgumentError, ValueError) as exc:
                raise ValueError(
                    "REGISTRY_AUDIT_URL is not a database URL: give e.g. sqlite:////path/audit.db or "
                    "postgresql://user@host/db"
                ) from exc
        if self.identity == "header" and not self.header_secret:
            raise ValueError(
                "REGISTRY_IDENTITY=header needs REGISTRY_HEADER_SECRET: without the proxy's shared secret "
                "no user header can be believed (see docs/identity.md)"
            )
        return self

    def __repr_args__(self) -> Any:
        """repr() and str() show the masked description: settings end up in logs and tracebacks."""
        return list(self.describe().items())

    @property
    def local_tracking_uri(self) -> str:
        return f"sqlite:///{self.home / 'mlflow.db'}"

    @property
    def local_artifact_root(self) -> str:
        return (self.home / "artifacts").as_uri()

    @property
    def effective_tracking_uri(self) -> str:
        """The tracking URI in force: the user's, or the embedded local store."""
        return self.tracking_uri or self.local_tracking_uri

    @property
    def effective_registry_uri(self) -> str:
        return self.registry_uri or self.effective_tracking_uri

    @property
    def is_embedded(self) -> bool:
        """True when no tracking URI is configured and we run on the local SQLite store."""
        return not self.tracking_uri

    @property
    def effective_audit_url(self) -> str:
        """The audit log's SQLAlchemy URL: configured, or a SQLite file beside the local store."""
        if self.audit_url:
            return self.audit_url
        uri = self.effective_tracking_uri
        if uri.startswith("sqlite:///"):
            return f"sqlite:///{Path(uri.removeprefix('sqlite:///')).parent / 'audit.db'}"
        return f"sqlite:///{self.home / 'audit.db'}"

    @property
    def summary_cache_url(self) -> str:
        """Where downsampled metric lines are kept (registry/store/summaries.py): a SQLite file beside
        the audit log when that is one, else in the home folder, unless REGISTRY_SUMMARY_CACHE_URL names
        one (a volume that outlives the container, or one file for several replicas). Only a cache:
        safe to delete."""
        if self.summary_cache:
            return self.summary_cache
        audit = self.effective_audit_url
        if audit.startswith("sqlite:///") and ":memory:" not in audit:
            return f"sqlite:///{Path(audit.removeprefix('sqlite:///')).parent / 'summaries.db'}"
        return f"sqlite:///{self.home / 'summaries.db'}"

    @property
    def leads(self) -> frozenset[str]:
        return frozenset(name.strip() for name in self.leads_csv.split(",") if name.strip())

    @property
    def admins(self) -> frozenset[str]:
        return frozenset(name.strip() for name in self.admins_csv.split(",") if name.strip())

    @property
    def slot_aliases(self) -> dict[str, str]:
        """Slots whose alias is named differently (REGISTRY_PRODUCTION_ALIAS, REGISTRY_STAGING_ALIAS);
        every other managed slot is its own alias."""
        return {"production": self.production_alias, "staging": self.staging_alias}

    def alias_of(self, slot: str) -> str:
        """The MLflow alias a slot moves in alias mode."""
        return self.slot_aliases.get(slot, slot)

    @cached_property
    def config(self) -> dict[str, Any]:
        """The whole TOML config file (`registry.toml` or REGISTRY_CONFIG); empty when there is none."""
        path = self.config_file or (PROJECT_ROOT / "registry.toml")
        if not path.exists():
            if self.config_file:
                raise BadInput(f"REGISTRY_CONFIG: no file at {path}")
            return {}
        try:
            return tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise BadInput(f"{path}: not valid TOML ({exc})") from exc

    @cached_property
    def model_overrides(self) -> dict[str, dict[str, Any]]:
        """Per-model lifecycle settings from the TOML config file (`[models."name"]` tables)."""
        return {str(k): dict(v) for k, v in self.config.get("models", {}).items()}

    @property
    def policy_locked(self) -> bool:
        """Policy from the config file alone: the models' registry.* tags are watched but inert."""
        source = self.policy_source_env or self.config.get("policy", {}).get("source", "tags")
        if source not in ("tags", "config"):
            raise BadInput(f'config file: [policy] source = {source!r}: use "tags" or "config"')
        return source == "config"

    @property
    def notify_urls(self) -> tuple[str, ...]:
        """Webhook URLs: REGISTRY_NOTIFY_URLS (comma-separated) and `[notify] urls = [...]` in the
        config file, in that order, each once. They can hold tokens (Slack's do): never shown whole."""
        listed = [u.strip() for u in self.notify_urls_csv.split(",")]
        listed += [str(u).strip() for u in self.config.get("notify", {}).get("urls", [])]
        return tuple(dict.fromkeys(u for u in listed if u))

    def credentials_present(self) -> dict[str, bool]:
        """Which credentials are set, never their values: for status pages."""
        return {name: bool(os.environ.get(name)) for name in ("AWS_ACCESS_KEY_ID", *SECRET_ENV)}

    def describe(self) -> dict[str, str]:
        """The settings a user may see: URIs with any password masked, and no secret values."""
        return {
            "tracking_uri": mask_uri(self.effective_tracking_uri),
            "registry_uri": mask_uri(self.effective_registry_uri),
            "s3_endpoint_url": mask_uri(self.s3_endpoint_url or ""),
            "audit_url": mask_uri(self.effective_audit_url),
            "identity": self.identity,
            "actor": self.actor,
            "leads": ", ".join(sorted(self.leads)) or ("(none)" if self.admins else "(local user)"),
            "admins": ", ".join(sorted(self.admins)) or "(none)",
        }


def mask_uri(uri: str) -> str:
    """Hide the password of a `scheme://user:password@host` URI (and any credential in its query)."""
    return redact(uri)


def make_sqlite_folder(url: str) -> None:
    """The folder of a SQLite database URL (the audit log, the kept line summaries), made when
    missing: a new home or volume starts its databases there. Other URLs are left alone, and so is
    SQLite's URI form (`sqlite:///file:/path?mode=ro&uri=true`): it names its own open mode, often
    read-only, and its `file:` path is no folder to make (it was made, relative, in the working
    directory)."""
    from sqlalchemy.engine import make_url  # here: app.py reads settings before anything needs SQL

    parsed = make_url(url)
    database = parsed.database or ""
    if (
        parsed.get_backend_name() == "sqlite"
        and database not in ("", ":memory:")
        and not database.startswith("file:")
    ):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment; keyword overrides by field name win (tests, CLI flags).

    Fields are matched to the environment by their alias only: matching by field name would let
    unrelated variables such as `HOME` leak in.
    """
    unknown = set(overrides) - set(Settings.model_fields)
    if unknown:
        raise BadInput(f"unknown settings: {', '.join(sorted(unknown))}")
    by_alias = {str(Settings.model_fields[name].validation_alias): value for name, value in overrides.items()}
    try:
        return Settings(**by_alias)
    except ValidationError as exc:
        raise BadInput(settings_problem(exc)) from exc


def settings_problem(exc: ValidationError) -> str:
    """A bad setting in one line, named as the user wrote it (the variable), never with its value."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        names = [str(part) for part in error.get("loc", ()) if str(part)]
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{names[-1]}: {message}" if names else message)
    return "; ".join(problems)
