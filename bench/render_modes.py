"""How long Chromium takes to draw plotly traces as SVG and as WebGL, on this machine.

The Charts view and the Run and Compare pages draw lines as SVG, never WebGL
(pages/views/charts.py): a browser without a GPU, headless Chromium here, draws WebGL in
software. This measures that choice with plotly's own bundle and random data, no app involved:
each figure is drawn `--repeat` times into a fresh div, timed from `Plotly.newPlot` until the
next animation frame after it resolves.

    python -m bench.render_modes            # prints a Markdown table
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

import plotly
from playwright.sync_api import sync_playwright

from bench.browser import CHROMIUM, CHROMIUM_ARGS, VIEWPORT

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

# name -> (trace properties, traces, points per trace, x as run-name categories rather than numbers)
FIGURES: dict[str, tuple[dict[str, Any], int, int, bool]] = {
    "3 lines x 10,000 points, WebGL": ({"type": "scattergl", "mode": "lines"}, 3, 10_000, False),
    "3 lines x 10,000 points, SVG": ({"type": "scatter", "mode": "lines"}, 3, 10_000, False),
    "3 lines x 100,000 points, WebGL": ({"type": "scattergl", "mode": "lines"}, 3, 100_000, False),
    "3 lines x 100,000 points, SVG": ({"type": "scatter", "mode": "lines"}, 3, 100_000, False),
    "300 lines x 200 points, SVG": ({"type": "scatter", "mode": "lines"}, 300, 200, False),
    "1,000 lines x 100 points, SVG": ({"type": "scatter", "mode": "lines"}, 1_000, 100, False),
    "10,000 markers, WebGL": ({"type": "scattergl", "mode": "markers"}, 1, 10_000, False),
    "10,000 markers, SVG": ({"type": "scatter", "mode": "markers"}, 1, 10_000, False),
    "10,000 bars named by run": ({"type": "bar"}, 1, 10_000, True),
    "10,000 runs as one stepped, filled line": (
        {"type": "scatter", "mode": "lines", "line": {"shape": "hvh"}, "fill": "tozeroy"},
        1,
        10_000,
        False,
    ),
}

DRAW_JS = """async ([props, traces, points, named]) => {
    const div = document.getElementById('chart');
    Plotly.purge(div);
    const data = Array.from({length: traces}, () => ({...props,
        x: Array.from({length: points}, (_, i) => named ? `run-${i}` : i),
        y: Array.from({length: points}, () => Math.random())}));
    const started = performance.now();
    await Plotly.newPlot(div, data);
    await new Promise(done => requestAnimationFrame(() => setTimeout(done, 0)));
    return (performance.now() - started) / 1000;
}"""


def measure(repeat: int) -> dict[str, list[float]]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.set_content("<div id='chart' style='width:1400px;height:800px'></div>")
            page.add_script_tag(content=PLOTLY_JS.read_text())
            return {
                name: [page.evaluate(DRAW_JS, list(spec)) for _ in range(repeat)]
                for name, spec in FIGURES.items()
            }
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    print("| figure | median | samples |\n|---|---|---|")
    for name, seconds in measure(args.repeat).items():
        samples = ", ".join(f"{s:.2f}" for s in seconds)
        print(f"| {name} | {statistics.median(seconds):.2f} s | {samples} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
