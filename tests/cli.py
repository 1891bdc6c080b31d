"""Running the command line in tests: its own `main` in this process, or `python -m registry` for real.

A new interpreter costs about three seconds (MLflow's import) per command, and the suite runs a few
hundred commands. `main(argv)` is the whole CLI (`registry/__main__.py` only calls it), so most tests
run it here with the command's environment and its stdout and stderr captured. A test about what
only a separate process shows passes `process=True`: a closed pipe, an exit code from the
interpreter, or stderr being exactly one line (log records reach stderr there, not here).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

from registry.fronts import cli
from registry.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def cli_env(settings: Settings, actor: str = "ada") -> dict[str, str]:
    """The environment of a command run against `settings` as `actor` (a lead: REGISTRY_LEADS=ada)."""
    return {
        **os.environ,
        "MLFLOW_TRACKING_URI": settings.effective_tracking_uri,
        "REGISTRY_AUDIT_URL": settings.effective_audit_url,
        "REGISTRY_HOME": str(settings.home),
        "REGISTRY_ACTOR": actor,
        "REGISTRY_LEADS": "ada",
    }


def run_cli(
    settings: Settings, *args: str, actor: str = "ada", timeout: float = 120, process: bool = False
) -> subprocess.CompletedProcess[str]:
    """`python -m registry ARGS` against `settings`: exit code, stdout and stderr as a user sees them."""
    return run_command(args, cli_env(settings, actor), timeout=timeout, process=process)


def run_command(
    args: Sequence[str], env: Mapping[str, str], *, timeout: float = 120, process: bool = False
) -> subprocess.CompletedProcess[str]:
    """The command with exactly `env` as its environment."""
    argv = [sys.executable, "-m", "registry", *args]
    if process:
        return subprocess.run(argv, env=dict(env), cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    out, err = io.StringIO(), io.StringIO()
    with _environment(env), redirect_stdout(out), redirect_stderr(err):
        try:
            code = cli.main(list(args))
        except SystemExit as exc:  # argparse's usage errors and --help
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


@contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """os.environ is `env` inside, what it was after (the CLI reads its settings from it)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
