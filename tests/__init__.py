"""The test suite. MLflow's telemetry is off before MLflow is first imported: its client sets and
unsets an environment variable from a background thread, and a server or CLI child's copy of the
environment taken at that moment failed with KeyError '_MLFLOW_TELEMETRY_SESSION_ID' (seen once)."""

import os

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
