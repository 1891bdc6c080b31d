"""Side-by-side comparison of runs: which params, metrics and tags differ, and by how much.

Pure functions over the runs table that `registry.store.runs.runs_to_frame` builds (one row per run,
`params.*`, `metrics.*`, `tags.*` columns). The diff table turns it around: one row per field, one
column per run, so a reader scans down the rows that differ. Nothing here talks to a store.

Which way is better for a metric is a simple rule, documented in `metric_direction`: names that
contain loss, error, rmse, mae or mse are lower-better, every other metric higher-better. It is
a guess from the name, not a setting, and the page says so next to the marks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

import pandas as pd

from registry.errors import BadInput, NotFound

Direction = Literal["min", "max"]
SECTIONS = ("params", "metrics", "tags")
LOWER_IS_BETTER = ("loss", "error", "rmse", "mae", "mse")
DIFFERS = "differs"
MIN_RUNS = 2
MAX_RUNS = 50


def check_run_ids(run_ids: Sequence[str]) -> list[str]:
    """The distinct ids in order; fewer than 2 or more than 50 is a BadInput saying what to do."""
    ids = list(dict.fromkeys(i.strip() for i in run_ids if i and i.strip()))
    if len(ids) < MIN_RUNS:
        raise BadInput(
            f"compare: choose at least {MIN_RUNS} runs (got {len(ids)}); select them on Experiments & runs"
        )
    if len(ids) > MAX_RUNS:
        raise BadInput(f"compare: at most {MAX_RUNS} runs at once (got {len(ids)}); narrow the selection")
    return ids


def metric_direction(name: str) -> Direction:
    """'min' when lower is better (the name contains loss, error, rmse, mae or mse), else 'max'.

    `metrics.val_loss`, `test_error` and `rmse` are minimized; `accuracy`, `f1`, `auc` maximized.
    """
    bare = name.split(".", 1)[1] if name.startswith("metrics.") else name
    return "min" if any(word in bare.casefold() for word in LOWER_IS_BETTER) else "max"


def field_columns(runs: pd.DataFrame, sections: Sequence[str] = SECTIONS) -> list[str]:
    """The `params.*`, `metrics.*`, `tags.*` columns of a runs table, in section order."""
    return [c for s in sections for c in runs.columns if c.startswith(f"{s}.")]


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _same(a: object, b: object) -> bool:
    if _is_missing(a) or _is_missing(b):
        return _is_missing(a) and _is_missing(b)
    return bool(a == b)


def diff_table(runs: pd.DataFrame, sections: Sequence[str] = SECTIONS) -> pd.DataFrame:
    """One row per field (`params.lr`, `metrics.loss`, ...), one column per run id, and `differs`.

    A field is in the table when at least one run has it; a run that lacks it shows a missing value,
    and a field that some runs lack counts as differing. Values keep their type: params and tags
    are strings (as MLflow stores them: '0.1' and '0.10' differ), metrics floats.
    """
    if "run_id" not in runs.columns:
        raise BadInput("diff: the runs table has no run_id column")
    ids = [str(i) for i in runs["run_id"]]
    if len(set(ids)) != len(ids):
        raise BadInput("diff: a run appears twice")
    fields = [c for c in field_columns(runs, sections) if runs[c].notna().any()]
    body = runs.set_index("run_id")[fields].T.astype(object)
    body = body.where(body.notna(), None)
    body.columns = ids
    body.index.name = "field"
    body[DIFFERS] = [any(not _same(row[0], v) for v in row[1:]) for row in body[ids].itertuples(index=False)]
    return body


def run_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c != DIFFERS]


def only_differences(table: pd.DataFrame) -> pd.DataFrame:
    return table[table[DIFFERS].astype(bool)]


def differs_from_baseline(table: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """True where a run's value is not the baseline run's value (the baseline column is all False)."""
    _check_baseline(table, baseline)
    runs = run_columns(table)
    base = table[baseline]
    return pd.DataFrame(
        {r: [not _same(v, b) for v, b in zip(table[r], base, strict=True)] for r in runs},
        index=table.index,
    )


def _check_baseline(table: pd.DataFrame, baseline: str) -> None:
    if baseline not in run_columns(table):
        raise NotFound(f"baseline {baseline!r}: not one of the compared runs")


def _numeric(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce").astype("float64")


def metric_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The metric rows of a diff table as floats (runs as columns)."""
    rows = table.loc[[i for i in table.index if str(i).startswith("metrics.")], run_columns(table)]
    return rows.apply(_numeric, axis=1) if not rows.empty else rows.astype("float64")


def baseline_deltas(table: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Long table of every metric of every run against the baseline run.

    Columns: field, run_id, value, baseline, delta (value - baseline) and pct_change (delta as a
    percentage of |baseline|; missing when the baseline is 0 or missing).
    """
    _check_baseline(table, baseline)
    metrics = metric_rows(table)
    rows = []
    for field, values in metrics.iterrows():
        base = values[baseline]
        for run_id, value in values.items():
            delta = value - base
            pct = delta / abs(base) * 100 if pd.notna(base) and base != 0 else math.nan
            rows.append((field, run_id, value, base, delta, pct))
    columns = ["field", "run_id", "value", "baseline", "delta", "pct_change"]
    frame = pd.DataFrame(rows, columns=columns)
    for column in columns[2:]:
        frame[column] = frame[column].astype("float64")
    return frame


def best_marks(table: pd.DataFrame) -> pd.DataFrame:
    """True on the cells that hold the best value of their metric row (all of them on a tie).

    Only metric rows can be True; a row with a single distinct value marks nothing, since there
    is no winner to point at.
    """
    marks = pd.DataFrame(False, index=table.index, columns=run_columns(table))
    for field, values in metric_rows(table).iterrows():
        finite = values[values.notna() & values.map(lambda v: math.isfinite(v) if pd.notna(v) else False)]
        if finite.nunique() < 2:
            continue
        best = finite.min() if metric_direction(str(field)) == "min" else finite.max()
        marks.loc[field, finite.index[finite == best]] = True
    return marks


def best_runs(table: pd.DataFrame) -> dict[str, list[str]]:
    """Metric row → the run ids holding its best value (only rows with a winner)."""
    marks = best_marks(table)
    return {str(f): [r for r in marks.columns if row[r]] for f, row in marks.iterrows() if row.any()}


def format_value(value: object) -> str:
    """A cell as text: numbers in up to 10 significant digits, missing as empty."""
    if _is_missing(value):
        return ""
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def format_delta(delta: float, pct: float) -> str:
    if pd.isna(delta):
        return ""
    text = f"{delta:+.4g}"
    return f"{text} ({pct:+.1f}%)" if pd.notna(pct) else text


def deltas_table(deltas: pd.DataFrame, run_order: Sequence[str]) -> pd.DataFrame:
    """Metrics as rows, runs as columns, each cell 'value  Δ delta (pct%)' against the baseline."""
    if deltas.empty:
        return pd.DataFrame(index=pd.Index([], name="field"), columns=list(run_order), dtype=object)
    cells = deltas.assign(
        cell=[
            f"{format_value(v)}  Δ {format_delta(d, p)}" if pd.notna(v) and pd.notna(d) and d != 0
            else format_value(v)
            for v, d, p in zip(deltas["value"], deltas["delta"], deltas["pct_change"], strict=True)
        ]
    )  # fmt: skip
    wide = cells.pivot(index="field", columns="run_id", values="cell")
    return wide.reindex(columns=list(run_order)).fillna("")


def display_table(
    table: pd.DataFrame, labels: Mapping[str, str] | None = None, with_best: bool = True
) -> pd.DataFrame:
    """The diff table as text for a grid: run columns renamed to labels, plus best and direction.

    `best` names the winning runs of each metric row and `better` says which way the rule reads the
    metric ('lower' or 'higher'), so the reader can tell a mark from a guess.
    """
    labels = dict(labels or {})
    runs = run_columns(table)
    shown = pd.DataFrame({labels.get(r, r): table[r].map(format_value) for r in runs}, index=table.index)
    if with_best:
        winners = best_runs(table)
        shown["better"] = [
            ("lower" if metric_direction(str(f)) == "min" else "higher")
            if str(f).startswith("metrics.")
            else ""
            for f in table.index
        ]
        shown["best"] = [", ".join(labels.get(r, r) for r in winners.get(str(f), [])) for f in table.index]
    shown[DIFFERS] = table[DIFFERS].astype(bool)
    return shown


def unique_labels(run_ids: Sequence[str], names: Mapping[str, str]) -> dict[str, str]:
    """Column labels 'name · abc123' (name and the first 6 characters of the id), unique per run."""
    labels: dict[str, str] = {}
    for run_id in run_ids:
        name = (names.get(run_id) or "").strip()
        label = f"{name} · {run_id[:6]}" if name else run_id[:8]
        while label in labels.values():
            label = f"{label}~"
        labels[run_id] = label
    return labels


DIFF_STYLE = "background-color: rgba(255, 193, 7, 0.28)"
BEST_STYLE = "font-weight: bold; color: #15803d"


def cell_styles(
    shown: pd.DataFrame, table: pd.DataFrame, baseline: str, labels: Mapping[str, str]
) -> pd.DataFrame:
    """CSS for each cell of `display_table(table, labels)`: values that differ from the baseline run
    are highlighted, and the best value of each metric is bold green. Feed to `Styler.apply(axis=None)`."""
    styles = pd.DataFrame("", index=shown.index, columns=shown.columns)
    changed = differs_from_baseline(table, baseline)
    best = best_marks(table)
    for run_id in run_columns(table):
        column = labels.get(run_id, run_id)
        styles[column] = [
            "; ".join(s for s, on in ((DIFF_STYLE, c), (BEST_STYLE, b)) if on)
            for c, b in zip(changed[run_id], best[run_id], strict=True)
        ]
    return styles


_MD_CELL = str.maketrans(
    {"|": "\\|", "\\": "\\\\", "\n": " ", "\r": " ", "<": "&lt;", ">": "&gt;", "&": "&amp;"}
)


def markdown_table(table: pd.DataFrame, index_name: str = "field") -> str:
    """A table as GitHub-flavoured Markdown, for a pull request or a model card.

    Cells hold store content (run names, params, tags): pipes and newlines would break the table and
    markup would render, so both are written as literal text.
    """

    def cell(value: object) -> str:
        return (
            ""
            if value is None or (isinstance(value, float) and value != value)
            else str(value).translate(_MD_CELL)
        )

    header = [index_name, *map(str, table.columns)]
    rows = [
        [cell(index), *(cell(v) for v in values)]
        for index, values in zip(table.index, table.to_numpy(), strict=True)
    ]
    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
