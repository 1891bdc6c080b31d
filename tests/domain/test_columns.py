"""Which params read as numbers: what the charts offer as numeric axes, found once per read of the runs."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd

from registry.domain.columns import numeric_columns
from registry.store.fastpath import ExperimentRuns


def runs_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run_id": ["r1", "r2", "r3", "r4"],
            "params.lr": ["0.1", "0.01", "1e-3", None],  # a missing value does not make it text
            "params.depth": ["3", "5", "7", "9"],
            "params.kind": ["tree", "tree", "linear", "tree"],
            "params.empty": [None, None, None, None],  # nothing to plot
            "metrics.accuracy": [0.8, 0.9, np.nan, 0.7],
        }
    )


def test_numeric_columns_are_params_that_read_as_numbers():
    assert numeric_columns(runs_frame()) == ["params.lr", "params.depth"]
    assert numeric_columns(runs_frame(), "metrics.") == ["metrics.accuracy"]


def test_a_read_of_runs_carries_its_numeric_params_through_a_pickle():
    # st.cache_data pickles the read: the params found once travel with it, not found again per rerun
    read = pickle.loads(pickle.dumps(ExperimentRuns(runs_frame(), "database", truncated=False)))
    assert read.numeric_params == ("params.lr", "params.depth")
