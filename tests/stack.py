"""Real processes for the tests: moto's S3 server and an `mlflow server` that proxies artifacts to it.

We test against the same stack a team runs (a tracking server over SQL, artifacts in S3 behind the
server's proxy), not against mocks, because the behaviour that matters (paging, error codes, artifact
URIs like `mlflow-artifacts:/`, logged-model locations) only shows up there. Both servers run in their
own process groups so that stopping them also stops the workers they fork.

Importable outside pytest (bench scripts can use `running_stack`).
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from mlflow import MlflowClient

from registry.settings import Settings

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
BUCKET = "mlflow-test"
# Test stack only: MLflow refuses webhook URLs on private or loopback addresses and over plain http
# (SSRF protection); the tests' receiver listens on http://127.0.0.1. A production server keeps the
# defaults. The cache TTL is MLflow's per-event list of webhooks (60 s by default): a webhook created
# by a test is seen within a second. A fixed key keeps webhook secrets readable across restarts.
WEBHOOKS_TO_LOOPBACK = {
    "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
    "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
    "MLFLOW_WEBHOOK_CACHE_TTL": "1",
    "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": "dGVzdC1zdGFjay1vbmx5LWtleS0zMi1ieXRlcy0wMDA=",
}


@dataclass(frozen=True)
class Stack:
    """Where the session's servers listen, and how long they took to come up."""

    tracking_uri: str
    s3_endpoint_url: str
    bucket: str
    sqlite_uri_of_server_backend: str
    tmpdir: Path
    started_in_s: float = 0.0


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it; a tiny race with other processes remains)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def venv_executable(name: str) -> str:
    """A console script installed beside the running interpreter, so tests use the venv's copy."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise RuntimeError(f"{name} not found next to {sys.executable}: install moto[server]")
    return str(path)


class ServerProcess:
    """A child process in its own process group, its output in a log file we can quote on failure."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            argv, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def wait_until_answers(self, url: str, timeout_s: float) -> None:
        """Poll `url` until it answers 200; fail fast with the log tail if the process dies."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                raise RuntimeError(f"{self.name} exited ({code}) before answering {url}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer {url} within {timeout_s:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM the whole group, then SIGKILL whatever is left, so no worker outlives the tests."""
        pgid = self.proc.pid  # start_new_session: the group id is the leader's pid
        _signal_group(pgid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=timeout_s)
        deadline = time.monotonic() + timeout_s
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _group_alive(pgid):
            _signal_group(pgid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.wait(timeout=timeout_s)
        self._log.close()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# Not passed on to the servers. PYTEST_CURRENT_TEST: MLflow reads it to run its own test suite's
# checks, a listener on every read session of its SQL store (~1.5 of ~11 ms of CPU per request in a
# server here); a team's server never has it.
_NOT_FOR_CHILDREN = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "PYTEST_CURRENT_TEST")


def child_env(**extra: str) -> dict[str, str]:
    """The environment for the servers: ours, with fake AWS credentials and no tracking URI of ours."""
    env = {k: v for k, v in os.environ.items() if k not in _NOT_FOR_CHILDREN}
    env.update(FAKE_AWS)
    env["PYTHONUNBUFFERED"] = "1"  # so a log tail or an access-log check sees every line
    env.update(extra)
    return env


def start_moto(tmpdir: Path, port: int | None = None) -> tuple[ServerProcess, str]:
    port = port or free_port()
    argv = [venv_executable("moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    server = ServerProcess("moto_server", argv, tmpdir / "moto.log", child_env(), tmpdir)
    return server, f"http://127.0.0.1:{port}"


@functools.cache
def migrated_sqlite_template() -> Path:
    """An empty MLflow SQLite database at the current schema, made once per process, to copy: a
    server started on a fresh database spends ~2 s of CPU of its ~10 s start on the migrations, and
    a test on a direct sqlite:/// URI about 1 s."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    folder = Path(tempfile.mkdtemp(prefix="mlflow-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    db = folder / "mlflow.db"
    store = SqlAlchemyStore(f"sqlite:///{db}", (folder / "artifacts").as_uri())
    store.engine.dispose()
    return db


def start_mlflow_server(
    tmpdir: Path,
    s3_endpoint_url: str,
    bucket: str,
    port: int | None = None,
    *,
    backend_uri: str | None = None,
    artifacts_prefix: str = "artifacts",
) -> tuple[ServerProcess, str, str]:
    """Start `mlflow server` on SQLite (or `backend_uri`) with artifacts proxied to S3.

    Started again with the same `tmpdir` and `port`, it serves the same store (the fault tests
    restart a server they killed); a new SQLite store starts as a copy of the migrated template.
    Job execution is switched off: it forks a job runner and five huey consumers we do not use, and
    costs seconds of start-up. The default security middleware already allows 127.0.0.1.
    """
    port = port or free_port()
    if backend_uri is None:
        database = tmpdir / "mlflow.db"
        if not database.exists():
            shutil.copyfile(migrated_sqlite_template(), database)
        backend_uri = f"sqlite:///{database}"
    argv = [
        sys.executable, "-m", "mlflow", "server",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", backend_uri,
        "--artifacts-destination", f"s3://{bucket}/{artifacts_prefix}",
    ]  # fmt: skip
    env = child_env(
        MLFLOW_S3_ENDPOINT_URL=s3_endpoint_url,
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
        **WEBHOOKS_TO_LOOPBACK,
    )
    server = ServerProcess("mlflow server", argv, tmpdir / "mlflow-server.log", env, tmpdir)
    return server, f"http://127.0.0.1:{port}", backend_uri


class RestartableServer:
    """An `mlflow server` a test may stop and start again on the same store and port, as an operator
    restarts one: whatever points at it (a dashboard under test) keeps its URL."""

    def __init__(
        self, folder: Path, s3_endpoint_url: str, bucket: str, artifacts_prefix: str = "artifacts"
    ) -> None:
        self._where = (folder, s3_endpoint_url, bucket)
        self._artifacts_prefix = artifacts_prefix
        self.process, self.uri, _ = start_mlflow_server(*self._where, artifacts_prefix=artifacts_prefix)
        self.port = int(self.uri.rsplit(":", 1)[1])

    def wait_until_up(self, timeout_s: float = 60) -> None:
        self.process.wait_until_answers(f"{self.uri}/health", timeout_s=timeout_s)

    def stop(self) -> None:
        self.process.stop()

    def start_again(self) -> None:
        """Start it on the same store and port (a no-op while it runs) and wait until it answers."""
        if self.process.proc.poll() is None:
            return
        self.process.stop()  # what a kill left: its group, its log
        self.process, _, _ = start_mlflow_server(
            *self._where, port=self.port, artifacts_prefix=self._artifacts_prefix
        )
        self.wait_until_up()


def create_bucket(endpoint_url: str, bucket: str) -> None:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=FAKE_AWS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS["AWS_SECRET_ACCESS_KEY"],
        region_name=FAKE_AWS["AWS_DEFAULT_REGION"],
    )
    s3.create_bucket(Bucket=bucket)


@contextmanager
def running_stack(tmpdir: Path, bucket: str = BUCKET, health_timeout_s: float = 60.0) -> Iterator[Stack]:
    """Moto and the tracking server, started together (the server needs S3 only per request)."""
    tmpdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with ExitStack() as stop_later:
        moto, s3_url = start_moto(tmpdir)
        stop_later.callback(moto.stop)
        mlflow_server, tracking_uri, backend_uri = start_mlflow_server(tmpdir, s3_url, bucket)
        stop_later.callback(mlflow_server.stop)
        moto.wait_until_answers(f"{s3_url}/moto-api/", timeout_s=30)
        create_bucket(s3_url, bucket)
        mlflow_server.wait_until_answers(f"{tracking_uri}/health", timeout_s=health_timeout_s)
        yield Stack(
            tracking_uri=tracking_uri,
            s3_endpoint_url=s3_url,
            bucket=bucket,
            sqlite_uri_of_server_backend=backend_uri,
            tmpdir=tmpdir,
            started_in_s=time.monotonic() - started,
        )


def unique_name(prefix: str = "exp") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_experiment(
    client: MlflowClient, settings: Settings, name: str | None = None, tags: dict[str, str] | None = None
) -> str:
    """Create an experiment whose artifacts stay inside the test's folder.

    Against the server, the server picks the location (`mlflow-artifacts:/`, proxied to S3). On a
    direct SQLite URI MLflow would put artifacts under ./mlruns of the working directory, so we pass
    a location under the settings' home (the test's tmp_path).
    """
    name = name or unique_name()
    location = None
    if not settings.effective_tracking_uri.startswith(("http://", "https://")):
        location = f"{settings.local_artifact_root}/{name}"
    return client.create_experiment(name, artifact_location=location, tags=tags)


class FaultStack:
    """A moto S3 and an `mlflow server` proxying to it, both of the tests that stop or kill them.

    Started once per worker (tests/conftest.py's `fault_stack`, one xdist group): each such test
    used to start a pair of its own, ~10 s of CPU a server. `ensure_up` starts again, on the same
    ports and store, whatever the previous test left stopped (S3 comes back empty: a new bucket).
    """

    def __init__(self, folder: Path, bucket: str = "faults") -> None:
        self.folder, self.bucket = folder, bucket
        self.s3, self.s3_endpoint_url = start_moto(folder)
        self._s3_port = int(self.s3_endpoint_url.rsplit(":", 1)[1])
        try:
            self.server = RestartableServer(folder, self.s3_endpoint_url, bucket)
        except BaseException:
            self.s3.stop()
            raise
        try:
            self._s3_ready()
            self.server.wait_until_up()
        except BaseException:
            self.stop()
            raise

    def _s3_ready(self) -> None:
        self.s3.wait_until_answers(f"{self.s3_endpoint_url}/moto-api/", timeout_s=30)
        create_bucket(self.s3_endpoint_url, self.bucket)

    def ensure_up(self) -> None:
        if self.s3.proc.poll() is not None:
            self.s3.stop()
            self.s3, _ = start_moto(self.folder, self._s3_port)
            self._s3_ready()
        self.server.start_again()

    def stop(self) -> None:
        self.server.stop()
        self.s3.stop()
