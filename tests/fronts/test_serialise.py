"""The one JSON serialiser of the CLI and MCP: strict JSON whatever the service returns."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from registry.fronts.serialise import dumps, to_jsonable


@dataclass(frozen=True)
class _Point:
    name: str
    value: float
    at: datetime


def test_nan_and_infinities_become_null_everywhere() -> None:
    value = {"a": math.nan, "b": [math.inf, -math.inf], "c": _Point("x", math.nan, datetime(2026, 1, 1))}
    assert to_jsonable(value) == {
        "a": None,
        "b": [None, None],
        "c": {"name": "x", "value": None, "at": "2026-01-01T00:00:00"},
    }


def test_numpy_scalars_and_frames_become_plain_values() -> None:
    frame = pd.DataFrame({"run_id": ["r1", "r2"], "metrics.acc": [0.5, np.nan]})
    out = to_jsonable({"n": np.int64(3), "x": np.float64("nan"), "runs": frame, "ok": np.bool_(True)})
    runs = [{"run_id": "r1", "metrics.acc": 0.5}, {"run_id": "r2", "metrics.acc": None}]
    assert out == {"n": 3, "x": None, "runs": runs, "ok": True}
    assert type(out["n"]) is int


def test_dumps_is_strict_json() -> None:
    text = dumps({"v": math.nan, "at": datetime(2026, 1, 1, tzinfo=UTC), "ids": ("a", "b")})
    assert json.loads(text) == {"v": None, "at": "2026-01-01T00:00:00+00:00", "ids": ["a", "b"]}
    assert "NaN" not in text


def test_objects_with_as_dict_use_it() -> None:
    class Plan:
        def as_dict(self) -> dict[str, object]:
            return {"allowed": True, "delta": math.nan}

    assert to_jsonable([Plan()]) == [{"allowed": True, "delta": None}]
