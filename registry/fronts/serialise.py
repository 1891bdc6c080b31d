"""One JSON shape for every machine-facing front: the CLI's `--json` and the MCP tools' results.

Both answer with the same objects (plans, runs pages, versions), so they serialise them in one place:
dataclasses and `as_dict` objects to objects, DataFrames to lists of records, datetimes to ISO text,
NumPy scalars to Python numbers, and NaN and infinities to null, so the result is strict JSON that
any client parses (Python's `json.dumps` would write `NaN`, which JSON does not have).
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd


def to_jsonable(value: Any) -> Any:
    """`value` as plain JSON values (dict, list, str, int, float, bool, None)."""
    if hasattr(value, "as_dict"):
        return to_jsonable(value.as_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, pd.DataFrame):
        return json.loads(value.to_json(orient="records", date_format="iso"))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(value: Any, indent: int | None = 2) -> str:
    """Strict JSON text of `value`; anything still unknown is written as its text."""
    return json.dumps(to_jsonable(value), indent=indent, default=str, allow_nan=False)
