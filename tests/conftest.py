"""Shared fixtures: one real stack per session, and settings for either backend per test.

`stack` (session) runs moto's S3 server and an `mlflow server` proxying artifacts to it. `any_settings`
runs a test twice: against that server over HTTP, and against a direct `sqlite:///` URI, because
the dashboard supports both and MLflow's REST and SQL stores do not always agree.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient

from registry.settings import Settings, load_settings
from registry.store.client import make_client
from tests.demo_store import DemoStore, shared_demo
from tests.pg import PgStack, Postgres, running_pg_stack, running_postgres, skip_unless_available
from tests.stack import FAKE_AWS, FaultStack, Stack, migrated_sqlite_template, running_stack

TEST_ACTOR = "ada"
_stack_start_times: list[float] = []

# Variables that would point the tests at a real store or real credentials if they leaked in.
_SCRUBBED = (
    "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_S3_ENDPOINT_URL", "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID",
    "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
)  # fmt: skip


@pytest.fixture(scope="session", autouse=True)
def _test_environment() -> Iterator[None]:
    """Fake AWS credentials, no leaked tracking URI, and an MLflow client that fails fast."""
    with pytest.MonkeyPatch.context() as mp:
        for name in _SCRUBBED:
            mp.delenv(name, raising=False)
        for field in Settings.model_fields.values():  # the dashboard's own settings, not e.g. CI flags
            if isinstance(field.validation_alias, str):
                mp.delenv(field.validation_alias, raising=False)
        for name, value in FAKE_AWS.items():
            mp.setenv(name, value)
        # the dashboard's own retry (one, at once): a busy test server's one 500 is retried as in use
        mp.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(Settings.model_fields["http_retries"].default))
        mp.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
        mp.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
        mp.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        yield


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Moto S3 + `mlflow server` (SQLite backend, artifacts proxied to S3), once per session."""
    with running_stack(tmp_path_factory.mktemp("stack")) as started, pytest.MonkeyPatch.context() as mp:
        _stack_start_times.append(started.started_in_s)
        mp.setenv("MLFLOW_S3_ENDPOINT_URL", started.s3_endpoint_url)
        yield started


@pytest.fixture(scope="session")
def _fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    started = FaultStack(tmp_path_factory.mktemp("fault-stack"))
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def fault_stack(_fault_stack: FaultStack) -> FaultStack:
    """Moto and an `mlflow server` for tests that stop or kill them, once per worker (tests/stack.py,
    FaultStack); both run when the test starts, on the same ports and store as for the test before."""
    _fault_stack.ensure_up()
    return _fault_stack


@pytest.fixture(scope="session")
def _sqlite_template() -> Path:
    """An empty, migrated MLflow SQLite database to copy: migrating a fresh one costs ~1 s per test.
    The same one the servers started by tests/stack.py begin from."""
    return migrated_sqlite_template()


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path) -> DemoStore:
    """The demo trained once per session, shared by the xdist workers (tests/demo_store.py)."""
    return shared_demo(tmp_path_factory, _sqlite_template)


SettingsFactory = Callable[..., Settings]


def build_settings(request: pytest.FixtureRequest, backend: str, home: Path, **overrides: object) -> Settings:
    """Settings on one backend with everything under `home`; the server is started only if asked for.

    The sqlite backend gets its own tracking database in `home` (a copy of the migrated template).
    """
    fields: dict[str, object] = {
        "home": home,
        "audit_url": f"sqlite:///{home / 'audit.db'}",
        "actor": TEST_ACTOR,
        "leads_csv": TEST_ACTOR,
    }
    if backend == "http":
        live: Stack = request.getfixturevalue("stack")
        fields.update(tracking_uri=live.tracking_uri, s3_endpoint_url=live.s3_endpoint_url)
    elif backend == "sqlite":
        db = home / "mlflow.db"
        if not db.exists():
            shutil.copyfile(request.getfixturevalue("_sqlite_template"), db)
        fields["tracking_uri"] = f"sqlite:///{db}"
    elif backend == "postgres":  # a server on PostgreSQL, and the audit log in its own PG database
        pg: PgStack = request.getfixturevalue("pg_stack")
        fields.update(tracking_uri=pg.tracking_uri, s3_endpoint_url=pg.s3_endpoint_url)
        fields["audit_url"] = pg.postgres.database_for(home)
    else:
        raise ValueError(f"unknown backend {backend!r}")
    fields.update(overrides)
    return load_settings(**fields)


@pytest.fixture
def make_settings(request: pytest.FixtureRequest, tmp_path: Path) -> SettingsFactory:
    """`make_settings("http" | "sqlite" | "postgres", **field_overrides)`: settings for this test on
    that backend, with its own audit database and home under tmp_path."""

    def make(backend: str, **overrides: object) -> Settings:
        return build_settings(request, backend, tmp_path, **overrides)

    return make


@pytest.fixture
def http_settings(make_settings: SettingsFactory) -> Settings:
    return make_settings("http")


@pytest.fixture
def sqlite_settings(make_settings: SettingsFactory) -> Settings:
    return make_settings("sqlite")


@pytest.fixture(params=["http", "sqlite"])
def any_settings(request: pytest.FixtureRequest, make_settings: SettingsFactory) -> Settings:
    return make_settings(request.param)


@pytest.fixture
def http_client(http_settings: Settings) -> MlflowClient:
    return make_client(http_settings)


@pytest.fixture
def sqlite_client(sqlite_settings: Settings) -> MlflowClient:
    return make_client(sqlite_settings)


@pytest.fixture
def any_client(any_settings: Settings) -> MlflowClient:
    return make_client(any_settings)


@pytest.fixture(scope="module", params=["http", "sqlite"])
def shared_settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Like `any_settings`, but one per test module: for read-only tests that share their data."""
    return build_settings(request, request.param, tmp_path_factory.mktemp(f"shared-{request.param}"))


@pytest.fixture(scope="module")
def shared_client(shared_settings: Settings) -> MlflowClient:
    return make_client(shared_settings)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for seconds in _stack_start_times:
        terminalreporter.write_line(f"test stack (moto + mlflow server) started in {seconds:.1f} s")


# PostgreSQL: skipped where it is not installed, a failure then when REGISTRY_REQUIRE_POSTGRES=1 ------
@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the groups as it finds them
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under `--dist loadgroup` (`make test`) each xdist group runs on one worker. The PostgreSQL
    tests share one, so one worker starts the cluster and its `mlflow server` (half a minute on a
    busy machine), not each. So do the tests on the trained demo (test_demo and the browser tests
    it serves): one worker trains it (about a minute of one core) and starts its server, dashboard
    and Chromium while the other runs the rest, instead of both waiting on the training's lock
    (~110 s of setup each on a busy machine) and both starting a browser stack. The tests that stop
    or kill servers share one pair (`fault_stack`), so they share one worker too.

    Every other test runs on the worker that runs the rest of its module: xdist hands out single
    tests otherwise, and each worker that got one of a module's tests built the module's fixtures
    again (test_metrics' lines six times, test_adoption's registry four, a dashboard of its own for
    the header identity tests twice)."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if item.get_closest_marker("postgres"):
            item.add_marker(pytest.mark.xdist_group("postgres"))
        elif "demo_store" in fixtures:
            item.add_marker(pytest.mark.xdist_group("demo"))
        elif "fault_stack" in fixtures:
            item.add_marker(pytest.mark.xdist_group("faults"))
        else:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A throw-away PostgreSQL cluster on 127.0.0.1, once per session."""
    skip_unless_available()
    with running_postgres() as pg:
        yield pg


@pytest.fixture(scope="session")
def pg_stack(stack: Stack, postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgStack]:
    """`mlflow server` on a PostgreSQL backend store, artifacts in the session's moto S3."""
    folder = tmp_path_factory.mktemp("pg-stack")
    with running_pg_stack(folder, postgres, stack.s3_endpoint_url, stack.bucket) as started:
        yield started


@pytest.fixture
def pg_settings(make_settings: SettingsFactory) -> Settings:
    return make_settings("postgres")


@pytest.fixture(params=["http", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def every_backend_settings(request: pytest.FixtureRequest, make_settings: SettingsFactory) -> Settings:
    """`any_settings` plus a server and an audit log on PostgreSQL: for the lifecycle's core tests."""
    return make_settings(request.param)
