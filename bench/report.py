"""The benchmark's report: each measure, ours against raw MLflow or MLflow's UI, the targets met or missed.

`rows` turns one run's results into table rows; `markdown` writes docs/benchmarks.md from them.
Targets are reported, never asserted: a missed one says by how much.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.cases import FLOORS, Case, own_floor

WARM_TARGET_S = 0.1
FLOOR_RATIO = 1.1  # every page's first content within 10% of the bare-Streamlit floor (issue 15)
MAX_POINTS = 2000
# (case, measure) -> ("seconds", limit) or ("ratio", limit)
TARGETS: dict[tuple[str, str], tuple[str, float]] = {
    ("runs_list", "browser cold"): ("ratio", 1.0),
    ("runs_list", "browser warm"): ("ratio", 1.0),
    ("whole_experiment", "script cold"): ("seconds", 1.0),
    ("whole_experiment", "browser cold"): ("seconds", 2.0),
    ("compare", "script cold"): ("seconds", 1.0),
    ("compare", "browser cold"): ("seconds", 2.0),
    ("models_list", "script cold"): ("seconds", 1.0),
    ("models_list", "browser cold"): ("seconds", 1.0),
    ("charts_lines", "browser cold"): ("seconds", 3.0),
    ("charts_lines", "browser warm"): ("seconds", 1.0),
    ("charts_groups", "browser cold"): ("seconds", 3.0),
    ("charts_bar_10k", "browser cold"): ("seconds", 2.0),
    ("charts_scatter_10k", "browser cold"): ("seconds", 2.0),
}
CHART_CASES = ("charts_lines", "charts_groups", "charts_bar_10k", "charts_scatter_10k")
LINE_CASES = ("charts_lines", "charts_groups")  # where "points per line" means a metric's line


@dataclass(frozen=True)
class Row:
    measure: str
    ours: float | None
    other: float | None
    other_label: str
    target: str = ""
    verdict: str = ""
    unit: str = "s"

    @property
    def ratio(self) -> float | None:
        return self.ours / self.other if self.ours is not None and self.other else None


def judge(kind: str, limit: float, ours: float | None, other: float | None) -> tuple[str, str]:
    if kind == "ratio":
        target = f"ratio ≤ {limit:g}"
        if ours is None or not other:
            return target, "not measured" if other is None else "missed (ours timed out)"
        ratio = ours / other
        return target, "met" if ratio <= limit else f"missed: {ratio:.2f}× ({ours - other:+.2f} s)"
    target = f"< {_fmt(limit, 's')}"
    if ours is None:
        return target, "missed (timed out)"
    if ours < limit:
        return target, "met"
    return target, f"missed by {_fmt(ours - limit, 's')} ({ours / limit:.1f}×)"


def _row(case: Case, measure: str, ours: float | None, other: float | None, label: str) -> Row:
    target, verdict = "", ""
    if (case.key, measure) in TARGETS:
        target, verdict = judge(*TARGETS[(case.key, measure)], ours, other)
    elif measure == "script warm":
        target, verdict = judge("seconds", WARM_TARGET_S, ours, None)
    return Row(f"{case.title}: {measure}", ours, other, label, target, verdict)


def _points_row(measure: str, points: int) -> Row:
    verdict = "met" if points <= MAX_POINTS else f"missed by {points - MAX_POINTS:,} points"
    return Row(measure, points, None, "", f"≤ {MAX_POINTS:,}", verdict, unit="points")


def rows(results: dict[str, Any], chosen: list[Case]) -> list[Row]:
    raw, apptest = results.get("raw", {}), results.get("apptest", {})
    browser = results.get("browser", {}).get("cases", {})
    floor = results.get("browser", {}).get("floor") or {}
    floors = results.get("browser", {}).get("floors") or ({"table": floor} if floor else {})
    found: list[Row] = []
    for name, measured in floors.items():
        for when in ("cold", "warm"):
            found.append(
                Row(f"Floor ({name}): {FLOORS[name][2]}: browser {when}", measured.get(f"{when}_s"), None, "")
            )
    for case in chosen:
        script = apptest.get(case.key)
        raw_call = raw.get(case.raw, {})
        if script:
            label = f"raw: {raw_call['call']}" if raw_call else ""
            if "first_s" in script:
                found.append(_row(case, "script first visit (nothing kept)", script["first_s"], None, ""))
            found.append(_row(case, "script cold", script["cold_s"], raw_call.get("median_s"), label))
            found.append(_row(case, "script warm", script["warm_s"], None, ""))
        shown = browser.get(case.key)
        if shown:
            theirs = shown.get("mlflow") or {}
            label = "MLflow UI" if shown.get("mlflow") else "(no MLflow UI view)"
            for when in ("cold", "warm"):
                mine, other = shown["ours"].get(f"{when}_s"), theirs.get(f"{when}_s")
                if shown.get("mlflow") and other is None:
                    label = f"MLflow UI timed out (> {theirs.get('timeout_s', 0):.0f} s)"
                found.append(_row(case, f"browser {when}", mine, other, label))
            for when in ("cold", "warm") if floor else ():
                mine, base = shown["ours"].get(f"{when}_s"), floor.get(f"{when}_s")
                target, verdict = judge("ratio", FLOOR_RATIO, mine, base)
                found.append(
                    Row(
                        f"{case.title}: browser {when} against the floor",
                        mine,
                        base,
                        "floor",
                        target,
                        verdict,
                    )
                )
            own = own_floor(case)
            for when in ("cold", "warm") if own in floors else ():
                found.append(
                    Row(
                        f"{case.title}: browser {when} against the {own} floor",
                        shown["ours"].get(f"{when}_s"),
                        floors[own].get(f"{when}_s"),
                        f"{own} floor",
                        "context: what Streamlit alone takes",
                    )
                )
    compare = apptest.get("compare")
    if compare and compare.get("max_points_per_trace") is not None:
        found.append(
            _points_row(
                "Compare: max points per trace sent (AppTest figure)", compare["max_points_per_trace"]
            )
        )
    found_points = (browser.get("compare") or {}).get("ours", {}).get("points_per_trace") or []
    in_browser = [n for n in found_points if isinstance(n, int) and n > 0]
    if in_browser:
        found.append(
            _points_row("Compare: max points per trace in the browser's plotly data", max(in_browser))
        )
    for key in CHART_CASES:
        script = apptest.get(key) or {}
        title = next((c.title for c in chosen if c.key == key), key)
        if key in LINE_CASES and script.get("max_points_per_line") is not None:  # issue 14: per line
            found.append(_points_row(f"{title}: max points per line sent", script["max_points_per_line"]))
        elif script.get("max_points_per_trace") is not None:  # a point per run: no target
            points = script["max_points_per_trace"]
            found.append(Row(f"{title}: points per trace sent", points, None, "", unit="points"))
        if script.get("payload_bytes"):
            found.append(
                Row(f"{title}: figure payload sent", script["payload_bytes"] / 1e6, None, "", unit="MB")
            )
    for store, peak in (results.get("browser", {}).get("streamlit_peak_mb") or {}).items():
        theirs = results["browser"].get("mlflow_server_peak_mb", {}).get(store)
        found.append(
            Row(f"Streamlit peak memory (VmHWM), {store} store", peak, theirs, "mlflow server", unit="MB")
        )
    for store, measured in (results.get("concurrent") or {}).items():
        peak = measured.get("streamlit_peak_mb")
        label = f"Streamlit peak memory (VmHWM), {store} store, {measured['sessions']} sessions"
        found.append(Row(label, peak, None, "", unit="MB"))
    for call in results.get("service", {}).values():
        found.append(Row(f"Service: {call['call']}", call["median_s"], None, ""))
    return found


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    return f"{value:,.0f} {unit}"


def _machine(results: dict[str, Any]) -> list[str]:
    m = results["machine"]
    load = (tuple(round(x, 2) for x in m[k]) if m.get(k) else "–" for k in ("loadavg_start", "loadavg_end"))
    start, end = load
    return [
        f"- Machine: {m['cpu']}, {m['nproc']} cores, {m['ram_gb']} GB RAM; {m.get('os', '')}",
        f"- Load average (1, 5, 15 min) at start {start}, at end {end}. The machine is shared: another "
        "process may have run at the same time; the load average says how busy it was.",
        f"- Versions: Python {m['python']}, MLflow {m['mlflow']}, Streamlit {m['streamlit']}, pandas "
        f"{m['pandas']}, SQLite {m['sqlite']}, Playwright {m.get('playwright', '–')}, "
        f"{m.get('chromium', '')}",
        f"- Run on {results.get('started', '–')}; total {results.get('total_s', 0) / 60:.1f} min "
        f"(stores ready in {results.get('build_s', 0):.0f} s); samples: {results.get('samples', '')}",
    ]


def _stores(results: dict[str, Any]) -> list[str]:
    lines = [
        "| store | spec | size | schema | bulk insert | read back by MlflowClient |",
        "|---|---|---|---|---|---|",
    ]
    for store, info in results.get("manifest", {}).items():
        spec = ", ".join(f"{k} {v:,}" for k, v in info["spec"].items())
        lines.append(
            f"| {store} | {spec} | {info['size_mb']:,.0f} MB | {info['schema_s']} s | {info['insert_s']} s "
            f"| {info['verify_s']} s |"
        )
    return lines


def _concurrent(results: dict[str, Any], chosen: list[Case]) -> list[str]:
    measured = results.get("concurrent") or {}
    if not measured:
        return []
    titles = {c.key: c.title for c in chosen}
    sessions = next(iter(measured.values()))["sessions"]
    lines = [
        "",
        f"## {sessions} concurrent browser sessions",
        "",
        f"{sessions} browser contexts in one Chromium open every page of a store at the same moment (each "
        "session in a rotated order), against one Streamlit server per store; round 1 meets empty caches, "
        "later rounds warm ones. Time to first content, as above; an error is a timeout or a Streamlit "
        "exception on the page. Chromium runs on the same cores as the server.",
        "",
        "| page | round | n | median | p95 | max | errors | round wall time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for found in measured.values():
        for one in found["rounds"]:
            for key, page in one["pages"].items():
                errors = str(page["errors"]) + (
                    f" ({'; '.join(page['error_examples'])})" if page["errors"] else ""
                )
                lines.append(
                    f"| {titles.get(key, key)} | {one['round']} | {page['n']} "
                    f"| {_fmt(page['median_s'], 's')} "
                    f"| {_fmt(page['p95_s'], 's')} | {_fmt(page['max_s'], 's')} | {errors} "
                    f"| {_fmt(one['wall_s'], 's')} |"
                )
    return lines


def targets(table: list[Row]) -> list[str]:
    judged = [r for r in table if r.verdict]
    met = sum(r.verdict == "met" for r in judged)
    lines = ["", f"## Targets: {met} of {len(judged)} met", ""]
    lines += [
        f"- {'✅' if r.verdict == 'met' else '❌'} {r.measure} ({r.target}): {r.verdict}" for r in judged
    ]
    return lines


def markdown(results: dict[str, Any], table: list[Row], chosen: list[Case]) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench.run`); every figure below comes from one run, on one "
        "machine, on the same stores. Medians; the samples are in the run's JSON "
        "(bench/.stores/results/). Script time: `AppTest.run()` of the page, cold (Streamlit's caches "
        "cleared) and warm (a rerun). Browser: Chromium, from navigation until the first rows or the first "
        "chart are on screen; ours cold is the first visit after the server started, MLflow's cold a "
        "fresh browser context; warm is a reload. Ratio: ours / the other column.",
        "",
        *_machine(results),
        "",
        "## Stores",
        "",
        *_stores(results),
        *targets(table),
        "",
        "## All measures",
        "",
        "| measure | ours | raw MLflow / MLflow UI | ratio | target | met? |",
        "|---|---|---|---|---|---|",
    ]
    for row in table:
        other = (
            f"{_fmt(row.other, row.unit)} ({row.other_label})"
            if row.other_label
            else _fmt(row.other, row.unit)
        )
        ratio = f"{row.ratio:.2f}" if row.ratio is not None else ""
        lines.append(
            f"| {row.measure} | {_fmt(row.ours, row.unit)} | {other} | {ratio} | {row.target} "
            f"| {row.verdict} |"
        )
    lines += _concurrent(results, chosen)
    raw = results.get("raw", {})
    if raw:
        lines += ["", "## Raw MLflow calls", ""]
        lines += [f"- {c['call']}: {_fmt(c['median_s'], 's')} (n={c['n']})" for c in raw.values()]
    notes = [f"- {c.title}: {note}" for c in chosen for note in c.notes]
    if notes:
        lines += ["", "## Notes", "", *notes]
    failed = results.get("failed") or {}
    if failed:
        lines += ["", "## Steps that failed (their figures are missing)", ""]
        lines += [f"- {name}: {error}" for name, error in failed.items()]
    problems = {k: v["problems"] for k, v in results.get("apptest", {}).items() if v.get("problems")}
    if problems:
        lines += ["", "## Problems shown on pages", ""] + [f"- {k}: {v}" for k, v in problems.items()]
    return "\n".join(lines) + "\n"
