"""Where the work is: experiments by their newest run, with run counts, and the newest runs.

Both readers are checked: one GROUP BY on a database URI, and reading each experiment's newest runs
through the client over HTTP (where the count is "at least" past a cap).
"""

from __future__ import annotations

import time

import pytest
from mlflow import MlflowClient

from registry.settings import Settings
from registry.store import activity
from registry.store.activity import recent_runs
from registry.store.readers import reader_for
from tests.stack import create_experiment

DAY_MS = 86_400_000


def _runs(client: MlflowClient, experiment_id: str, starts_ms: list[int]) -> list[str]:
    ids = []
    for start in starts_ms:
        run = client.create_run(experiment_id, start_time=start, run_name=f"r{start}")
        client.set_terminated(run.info.run_id, end_time=start + 1000)
        ids.append(run.info.run_id)
    return ids


def test_experiments_come_most_recently_active_first_with_their_run_counts(
    any_client: MlflowClient, any_settings: Settings
) -> None:
    future = int(time.time() * 1000) + 30 * DAY_MS  # newer than any other test's runs on the shared server
    quiet = create_experiment(any_client, any_settings)
    busy = create_experiment(any_client, any_settings)
    empty = create_experiment(any_client, any_settings)
    _runs(any_client, quiet, [future - 5 * DAY_MS])
    busy_runs = _runs(any_client, busy, [future - 3 * DAY_MS, future, future - DAY_MS])
    deleted = _runs(any_client, busy, [future + DAY_MS])[0]
    any_client.delete_run(deleted)  # neither counted nor the newest

    found = reader_for(any_client, any_settings.effective_tracking_uri).experiment_activity()

    by_id = {e.experiment_id: e for e in found}
    order = [e.experiment_id for e in found if e.experiment_id in (quiet, busy, empty)]
    assert order[:2] == [busy, quiet]
    assert (by_id[busy].runs, by_id[quiet].runs, by_id[empty].runs) == (3, 1, 0)
    assert by_id[busy].last_run is not None and by_id[busy].last_run.timestamp() * 1000 == future
    assert by_id[empty].last_run is None and by_id[empty].last_activity == by_id[empty].created
    assert not by_id[busy].runs_capped

    # Other modules on the shared server log runs far in the future (tests/ui/tracking_data.py), so the
    # newest runs are asked of this test's own experiments, in the order the reader gave them.
    ours = [e for e in found if e.experiment_id in (quiet, busy, empty)]
    newest = recent_runs(any_client, ours, limit=2)
    assert list(newest["run_id"]) == [busy_runs[1], busy_runs[2]]


def test_over_http_a_count_past_the_cap_says_at_least(
    http_client: MlflowClient, http_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(activity, "COUNT_CAP", 2)
    experiment = create_experiment(http_client, http_settings)
    _runs(http_client, experiment, [1_000, 2_000, 3_000])

    found = {e.experiment_id: e for e in reader_for(http_client).experiment_activity()}

    assert (found[experiment].runs, found[experiment].runs_capped) == (2, True)
    assert found[experiment].last_run is not None and found[experiment].last_run.timestamp() == 3
