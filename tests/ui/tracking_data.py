"""One small experiment for the tracking pages' AppTests: a parent with a child, two other runs (one
named with markup), params that differ in known ways, metric histories, artifacts and a model.

Made once per test module through the MLflow client on the session's server: the pages only read it.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from mlflow import MlflowClient
from streamlit.testing.v1 import AppTest

from tests.run_data import log_steps, make_logged_model, make_run, register_logged_model
from tests.stack import unique_name

MARKUP_NAME = "<script>alert(1)</script> **bold** [x](http://e.vil)"


@dataclass(frozen=True)
class Tracking:
    experiment_id: str
    experiment_name: str
    parent: str
    child: str
    other: str  # the run named MARKUP_NAME
    plain: str
    model_name: str


def arrange(client: MlflowClient) -> Tracking:
    name = unique_name("ui-tracking")
    eid = client.create_experiment(name)
    parent = make_run(
        client, eid, "parent", params={"lr": "0.1", "depth": "3", "optimizer": "adam"},
        metrics={"accuracy": 0.8}, tags={"team": "search"},
    )  # fmt: skip
    child = make_run(
        client, eid, "child", params={"lr": "0.1", "depth": "5", "optimizer": "adam"},
        metrics={"accuracy": 0.7}, tags={"team": "search"}, parent_run_id=parent,
    )  # fmt: skip
    other = make_run(
        client, eid, MARKUP_NAME, params={"lr": "0.01", "depth": "3", "optimizer": "adam"},
        metrics={"accuracy": 0.9}, tags={"team": "search"},
    )  # fmt: skip
    plain = make_run(client, eid, "plain", params={"optimizer": "adam"}, metrics={"accuracy": 0.5})
    for run_id, scale in ((parent, 1.0), (child, 1.5), (other, 0.5)):
        log_steps(client, run_id, "loss", [scale / (step + 1) for step in range(50)])
    client.log_dict(parent, {"layers": [64, 32], "dropout": 0.1}, "config.json")
    client.log_dict(other, {"layers": [128, 32], "dropout": 0.1}, "config.json")
    client.log_text(parent, "numpy==2.0\npandas==3.0\n", "requirements.txt")
    client.log_text(other, "numpy==2.1\npandas==3.0\n", "requirements.txt")
    client.log_text(parent, "epoch,loss\n1,0.5\n2,0.25\n", "data/history.csv")
    model_id = make_logged_model(client, eid, parent)
    model_name = unique_name("ui-model")
    client.create_registered_model(model_name)
    register_logged_model(client, model_name, model_id)
    return Tracking(eid, name, parent, child, other, plain, model_name)


FAR_FUTURE_MS = 4_102_444_800_000  # 2100-01-01: newer than any other test's runs on the shared server


def newest_runs(client: MlflowClient, count: int) -> tuple[str, list[str]]:
    """An experiment whose `count` runs are the newest of the store (a later call's are newer still);
    returns it and its runs, newest first."""
    eid = client.create_experiment(unique_name("ui-newest"))
    runs = []
    later = time.time_ns() // 1_000_000  # a later call: later runs
    for i in range(count):
        start = FAR_FUTURE_MS + later + i * 1000
        run = client.create_run(eid, start_time=start, run_name=f"newest-{i}", tags={"team": f"t{i}"})
        client.log_param(run.info.run_id, "lr", str(0.1 * (i + 1)))
        client.set_terminated(run.info.run_id, end_time=start + 500)
        runs.append(run.info.run_id)
    return eid, runs[::-1]


@pytest.fixture(scope="module", name="tracking")
def tracking_fixture(stack) -> Iterator[Tracking]:
    """Import `tracking_fixture` into a test module to use the `tracking` fixture there."""
    yield arrange(MlflowClient(tracking_uri=stack.tracking_uri))


def plotly_array(value: Any) -> np.ndarray:
    """An array from a figure's JSON: plotly 6+ writes numeric arrays as base64 `{dtype, bdata}`."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return np.asarray(value)


def unescape(text: str) -> str:
    """A message as the reader sees it: `plain()` backslash-escapes markdown characters and puts an
    invisible zero-width space inside addresses so they cannot become links."""
    return re.sub(r"\\(.)", r"\1", text).replace("\u200b", "")


def flatten(node: Any) -> list[Any]:
    """Every element of an AppTest tree in page order (blocks opened), for "what is under what"."""
    children = getattr(node, "children", None)
    if children is None:
        return [node]
    found: list[Any] = []
    for child in children.values():
        found.extend(flatten(child))
    return found


def texts(at: AppTest) -> list[str]:
    """The text of every markdown-like element (titles, captions, alerts, markdown) on the page."""
    kinds = (at.title, at.header, at.subheader, at.caption, at.markdown, at.error, at.warning, at.info,
             at.success)  # fmt: skip
    return [str(e.value) for kind in kinds for e in kind]


def assert_no_raw_markup(at: AppTest) -> None:
    """Store content with markup is escaped wherever markdown renders it."""
    for text in texts(at):
        assert "<script>" not in text, text
        assert "**bold**" not in text, text


def prefetched(at: AppTest) -> list[str]:
    """The frontend chunks the page asked the browser to load ahead (pages/views/prefetch.py), in
    the order the sidebar holds the requests."""
    return [
        chunk
        for node in flatten(at.sidebar)
        if getattr(node, "type", None) == "bidi_component"
        and node.proto.component_name == "registry_dashboard.prefetch"
        for chunk in json.loads(node.proto.json)["chunks"]
    ]
