"""The test suite. MLflow's telemetry is off before MLflow is first imported: its client sets and
unsets an environment variable from a background thread, and a server or CLI child's copy of the
environment taken at that moment failed with KeyError '_MLFLOW_TELEMETRY_SESSION_ID' (seen once).

Bytecode is written as `make test` writes it (the Makefile unexports PYTHONDONTWRITEBYTECODE), also
when pytest runs directly in an environment that sets it, as Docker images often do: then no module
compiled for the first time was ever cached, and every process the tests start compiled it again.
A server's search_runs imports mlflow.server.auth on every request (the import fails without
Flask-WTF, so it is never kept): 9,000 lines compiled per request, ~96 ms of the server's CPU per
search instead of ~20 ms. The whole suite run directly with PYTHONDONTWRITEBYTECODE=1 on a venv no
`make test` had cached took 933 s of CPU; writing bytecode from an empty cache, as CI does, 810 s."""

import os
import sys

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # for the processes the tests start
sys.dont_write_bytecode = False  # for this one's own imports
