"""The Charts view as a URL: what `/runs?view=charts&...` asks for, read and written back.

`?metrics=a,b&group_by=params.lr,tags.team&aggregate=mean_std|mean_ci|median_iqr|min_max&x=step|wall|
relative|metric:<key>&smooth=0..0.99&log=x,y&outliers=hide&chart=lines|bar|scatter|contour|box|parallel|
images&bar=last|min|max|mean&axes=<col>,<col>[,<col>]`.

A link is often typed or pasted by hand, so nothing in it may break the page: every value that does
not parse is replaced by its default and named in a message the page shows above the chart. Whether
a metric or a column exists depends on the experiment; the view checks that against its runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from registry.domain.aggregate import AGGREGATES, MAX_SMOOTHING

CHART_TYPES: dict[str, str] = {
    "lines": "Lines",
    "bar": "Bar",
    "scatter": "Scatter",
    "contour": "Contour",
    "box": "Box",
    "parallel": "Parallel coordinates",
    "images": "Images",
}
X_BASES: dict[str, str] = {"step": "Step", "wall": "Wall time", "relative": "Relative time (s)"}
METRIC_X = "metric:"
BAR_VALUES: dict[str, str] = {"last": "latest", "min": "minimum", "max": "maximum", "mean": "mean"}
LOG_AXES = ("x", "y")


@dataclass(frozen=True)
class ChartSpec:
    """Everything the Charts view draws from, as chosen in the URL or the controls."""

    chart: str = "lines"
    metrics: tuple[str, ...] = ()
    group_by: tuple[str, ...] = ()
    aggregate: str = "mean_std"
    x: str = "step"
    smooth: float = 0.0
    log: tuple[str, ...] = ()
    hide_outliers: bool = False
    bar: str = "last"
    axes: tuple[str, ...] = field(default=())

    @property
    def x_metric(self) -> str | None:
        """The metric on the x axis when x is `metric:<key>`."""
        return self.x.removeprefix(METRIC_X) if self.x.startswith(METRIC_X) else None


def _items(text: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in (text or "").split(",") if v.strip()))


def _choice(
    query: Mapping[str, str], name: str, options: Mapping[str, str], default: str, problems: list[str]
) -> str:
    value = (query.get(name) or "").strip()
    if not value:
        return default
    if value in options:
        return value
    problems.append(f"{name}={value!r} is not one of {', '.join(options)}: showing {default}")
    return default


def parse_chart_query(query: Mapping[str, str]) -> tuple[ChartSpec, list[str]]:
    """The spec a URL asks for, and a readable message for every value that could not be used."""
    problems: list[str] = []
    spec = ChartSpec(
        chart=_choice(query, "chart", CHART_TYPES, "lines", problems),
        metrics=_items(query.get("metrics")),
        group_by=_items(query.get("group_by")),
        aggregate=_choice(query, "aggregate", AGGREGATES, "mean_std", problems),
        bar=_choice(query, "bar", BAR_VALUES, "last", problems),
        axes=_items(query.get("axes")),
    )
    x = (query.get("x") or "").strip()
    if x in X_BASES or (x.startswith(METRIC_X) and x.removeprefix(METRIC_X).strip()):
        spec = replace(spec, x=x if x in X_BASES else METRIC_X + x.removeprefix(METRIC_X).strip())
    elif x:
        problems.append(f"x={x!r} is not step, wall, relative or metric:<key>: showing step")
    smooth = (query.get("smooth") or "").strip()
    if smooth:
        try:
            value = float(smooth)
        except ValueError:
            value = math.nan
        if 0 <= value <= MAX_SMOOTHING:
            spec = replace(spec, smooth=value)
        else:
            problems.append(f"smooth={smooth!r} is not a number from 0 to {MAX_SMOOTHING}: no smoothing")
    log = _items(query.get("log"))
    unknown = [a for a in log if a not in LOG_AXES]
    if unknown:
        problems.append(f"log={','.join(unknown)!r}: only x and y can be logarithmic")
    spec = replace(spec, log=tuple(a for a in LOG_AXES if a in log))
    outliers = (query.get("outliers") or "").strip()
    if outliers in ("hide", "show", ""):
        spec = replace(spec, hide_outliers=outliers == "hide")
    else:
        problems.append(f"outliers={outliers!r} is not hide or show: outliers shown")
    return spec, problems


def chart_query(spec: ChartSpec) -> dict[str, str | None]:
    """The URL parameters of a spec; defaults are left out (None) so links stay short."""
    default = ChartSpec()
    return {
        "chart": None if spec.chart == default.chart else spec.chart,
        "metrics": ",".join(spec.metrics) or None,
        "group_by": ",".join(spec.group_by) or None,
        "aggregate": None if spec.aggregate == default.aggregate or not spec.group_by else spec.aggregate,
        "x": None if spec.x == default.x else spec.x,
        "smooth": f"{spec.smooth:g}" if spec.smooth else None,
        "log": ",".join(spec.log) or None,
        "outliers": "hide" if spec.hide_outliers else None,
        "bar": None if spec.bar == default.bar else spec.bar,
        "axes": ",".join(spec.axes) or None,
    }


def line_settings_in_words(spec: ChartSpec) -> list[str]:
    """The line settings that differ from their defaults, in words.

    The settings panel is shut on most visits (its controls are sent only when opened), so the chart's
    caption says what it applies: a smoothed or logarithmic chart must not pass for a raw one.
    """
    said = []
    if spec.x_metric:
        said.append(f"x: metric {spec.x_metric}")
    elif spec.x != ChartSpec.x:
        said.append(f"x: {X_BASES[spec.x].lower()}")
    if spec.group_by and spec.aggregate != ChartSpec.aggregate:
        said.append(f"band: {AGGREGATES[spec.aggregate]}")
    if spec.smooth:
        said.append(f"smoothing {spec.smooth:g}")
    if spec.log:
        said.append(f"log {' and '.join(spec.log)}")
    if spec.hide_outliers:
        said.append("outliers hidden")
    return said
