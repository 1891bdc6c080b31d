"""The demo, trained once per test session and shared by every xdist worker.

Seeding trains ~20 models (30 to 80 s, most of it scikit-learn and MLflow's model logging).
tests/test_demo.py checks what it left, and the browser tests serve the same store behind an
`mlflow server` of their own. The first worker to ask trains it into an embedded store (SQLite and
local artifacts, as `make run` does) under the session's temporary root while holding a file lock;
the others wait for the lock and find it done. Without the promotion history: a consumer that wants
it runs `seed_history` on its copy.

The folder is read-only for its readers. A test that changes the store works on a copy of the
database (`copy_database`); a copy's runs keep their artifacts in the shared folder.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest
from filelock import FileLock

from registry.settings import Settings, load_settings
from registry.training.demo import DemoSummary, seed_demo

_DONE = "seeded.json"  # written last: its presence means the store is complete


@dataclass(frozen=True)
class DemoStore:
    """The seeded folder, what `seed_demo` reported, and its progress calls in order."""

    home: Path
    summary: DemoSummary
    progress: list[tuple[float, str]]

    @property
    def settings(self) -> Settings:
        return embedded_settings(self.home)

    def copy_database(self, to: Path) -> Path:
        """A copy of the tracking database at `to` (a file), to change without touching the shared one."""
        to.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.home / "mlflow.db", to)
        return to


def embedded_settings(home: Path) -> Settings:
    """Settings for the embedded store in `home`: tracking database, artifacts and audit log there."""
    return load_settings(
        tracking_uri=f"sqlite:///{home}/mlflow.db", home=home, audit_url=f"sqlite:///{home}/audit.db"
    )


def session_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder all workers of this session share: the parent of each worker's basetemp under
    xdist, the basetemp itself in a plain run (its parent holds other sessions' folders)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def shared_demo(tmp_path_factory: pytest.TempPathFactory, empty_database: Path) -> DemoStore:
    """The session's seeded demo; trained here if no worker has done it yet.

    `empty_database` is a migrated MLflow database to start from (saves the migrations)."""
    root = session_root(tmp_path_factory)
    home = root / "demo-store"
    with FileLock(root / "demo-store.lock"):
        if not (home / _DONE).exists():
            shutil.rmtree(home, ignore_errors=True)  # what a failed attempt left
            home.mkdir(parents=True)
            shutil.copyfile(empty_database, home / "mlflow.db")
            progress: list[tuple[float, str]] = []
            summary = seed_demo(
                embedded_settings(home),
                progress=lambda fraction, message: progress.append((fraction, message)),
                with_history=False,
            )
            done = {"summary": asdict(summary), "progress": progress}
            (home / f"{_DONE}.tmp").write_text(json.dumps(done))
            (home / f"{_DONE}.tmp").rename(home / _DONE)
    done = json.loads((home / _DONE).read_text())
    return DemoStore(
        home=home,
        summary=DemoSummary(**done["summary"]),
        progress=[(fraction, message) for fraction, message in done["progress"]],
    )
