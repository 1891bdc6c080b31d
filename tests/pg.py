"""A real PostgreSQL server for the tests, started from the distribution's binaries without systemd.

Several dashboard replicas share one audit log in PostgreSQL, and a team's tracking server often runs
on it too; SQLite cannot show how that behaves (row locks, a unique constraint raced by two
connections, trigger DDL, lock timeouts). We `initdb` a throw-away cluster into a private folder and
start it with `pg_ctl` on 127.0.0.1 and a private socket directory. PostgreSQL refuses to run as root,
so as root every binary runs as the `postgres` user, and the folder is theirs.

Without the binaries the PostgreSQL tests skip, unless REGISTRY_REQUIRE_POSTGRES=1 (CI sets it,
after installing Debian's `postgresql`), which turns the skip into a failure.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.stack import free_port, start_mlflow_server

REQUIRE_ENV = "REGISTRY_REQUIRE_POSTGRES"
SUPERUSER = "postgres"
# Durability off: a test cluster is thrown away; fsync would only make every commit slow.
_SERVER_OPTIONS = "-c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=200"


def required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1"


def bin_dir() -> Path | None:
    """The newest installed PostgreSQL's binaries (Debian: /usr/lib/postgresql/<major>/bin), or None."""
    candidates = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")]
    candidates.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if candidates:
        return candidates[-1]
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path and Path(on_path).with_name("initdb").exists() else None


def missing_reason() -> str | None:
    """Why PostgreSQL cannot be started here, or None when it can."""
    if bin_dir() is None:
        return "PostgreSQL is not installed (no initdb/pg_ctl): apt-get install -y postgresql"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SUPERUSER)
        except KeyError:
            return f"running as root and there is no '{SUPERUSER}' user to run PostgreSQL as"
    return None


@dataclass(frozen=True)
class Postgres:
    """A running cluster: trust authentication, reachable on 127.0.0.1 only."""

    host: str
    port: int
    folder: Path
    started_in_s: float = 0.0

    def url(self, database: str, driver: str = "postgresql") -> str:
        return f"{driver}://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create `name` unless it exists; return its URL."""
        import psycopg

        # autocommit: CREATE DATABASE cannot run inside a transaction
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def database_for(self, key: object, prefix: str = "audit") -> str:
        """A database named after `key` (e.g. a test's home folder): the same key, the same database."""
        digest = hashlib.sha1(str(key).encode()).hexdigest()[:16]
        return self.create_database(f"{prefix}_{digest}")


def _as_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", SUPERUSER, "--", *argv] if os.geteuid() == 0 else argv


def _run(argv: list[str], what: str, log: Path | None = None) -> None:
    done = subprocess.run(_as_owner(argv), capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
        raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stdout}{done.stderr}{tail}")


@contextmanager
def running_postgres(port: int | None = None) -> Iterator[Postgres]:
    """initdb + pg_ctl start in a fresh folder; stopped and removed on exit.

    The folder is made with mkdtemp under the system temp dir, not pytest's tmp_path: pytest's
    folders are private to their owner, and the server runs as another user when we are root.
    """
    reason = missing_reason()
    if reason:
        raise RuntimeError(reason)
    binaries = bin_dir()
    assert binaries is not None
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="registry-pg-"))
    data, log = folder / "data", folder / "postgres.log"
    if os.geteuid() == 0:
        shutil.chown(folder, SUPERUSER, SUPERUSER)
    port = port or free_port()
    try:
        _run(
            [str(binaries / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
             "--no-sync", "--no-instructions"],
            "initdb",
        )  # fmt: skip
        options = f"-k {folder} -p {port} -h 127.0.0.1 {_SERVER_OPTIONS}"
        _run(
            [str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options,
             "start"],
            "pg_ctl start",
            log,
        )  # fmt: skip
        try:
            yield Postgres("127.0.0.1", port, folder, time.monotonic() - started)
        finally:
            _run([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], "pg_ctl stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class PgStack:
    """An `mlflow server` whose backend store is PostgreSQL, and the cluster for audit databases."""

    tracking_uri: str
    s3_endpoint_url: str
    postgres: Postgres
    backend_uri: str
    started_in_s: float = 0.0


@contextmanager
def running_pg_stack(
    tmpdir: Path, pg: Postgres, s3_endpoint_url: str, bucket: str, health_timeout_s: float = 120.0
) -> Iterator[PgStack]:
    """`mlflow server --backend-store-uri postgresql+psycopg2://…` on `pg`, artifacts proxied to S3.

    psycopg2, not SQLAlchemy's default psycopg 3: MLflow 3.17.2's registry store binds versions as
    VARCHAR against an INTEGER column under psycopg 3 and stage transitions fail (mlflow#24592).
    """
    started = time.monotonic()
    pg.create_database("mlflow")
    backend_uri = pg.url("mlflow", driver="postgresql+psycopg2")
    server, tracking_uri, _ = start_mlflow_server(
        tmpdir, s3_endpoint_url, bucket, backend_uri=backend_uri, artifacts_prefix="pg-artifacts"
    )
    try:
        server.wait_until_answers(f"{tracking_uri}/health", timeout_s=health_timeout_s)
        yield PgStack(tracking_uri, s3_endpoint_url, pg, backend_uri, time.monotonic() - started)
    finally:
        server.stop()


def skip_unless_available() -> None:
    """Skip the calling test where PostgreSQL is absent; fail instead when it is required (CI)."""
    import pytest

    reason = missing_reason()
    if reason is None:
        return
    if required():
        pytest.fail(f"{REQUIRE_ENV}=1 but {reason}")
    pytest.skip(f"{reason} (set {REQUIRE_ENV}=1 to make this a failure)")
