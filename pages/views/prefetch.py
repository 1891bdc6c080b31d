"""Fetch the browser code of the elements a page will show while its script still runs.

Streamlit's frontend loads an element's code (a JavaScript chunk) only when the first element of that
kind arrives: a page's table cannot start drawing until its data has come and then the 490 KB
dataframe chunk has been fetched and parsed; Plotly's chunk is 4.7 MB and takes about a second to
evaluate (docs/benchmarks.md, "Where the time goes"). The page's script meanwhile reads the store,
and the browser waits idle. An invisible component imports those chunks ahead; when the element
comes, its code is already in the browser's module map.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import streamlit as st

DATAFRAME = "DataFrame"
PLOTLY = "PlotlyChart"
_FIRST_CELL = '[data-testid="stDataFrame"] [data-testid^="glide-cell-"]'

_JS = """
export default function ({ data, setTriggerValue }) {
  // The chunks sit beside Streamlit's own entry module, wherever the app is served from.
  const entry = document.querySelector('script[type="module"][src*="static/js/index."]');
  const load = () => {
    if (!entry) return;  // an unknown page layout: no head start, and the report still goes
    for (const chunk of data.chunks) {
      import(new URL(chunk, entry.src).href).catch(() => {});  // a miss only means no head start
    }
    // The element's stylesheet: Streamlit's loader waits for it, and skips one already linked.
    for (const style of data.styles) {
      const href = new URL(`../css/${style}`, entry.src).href;
      if (document.querySelector(`link[rel="stylesheet"][href="${href}"]`)) continue;
      const link = document.createElement("link");
      Object.assign(link, { rel: "stylesheet", crossOrigin: "", href });
      document.head.appendChild(link);
    }
  };
  const drawn = () => {
    load();
    if (data.report) setTriggerValue("drawn", true);  // the page may now bring what it held back
  };
  if (!data.after || document.querySelector(data.after)) return drawn();
  // Not before the page's first table is drawn: evaluating the code holds the browser's main thread.
  const seen = new MutationObserver(() => {
    if (document.querySelector(data.after)) { seen.disconnect(); clearTimeout(anyway); drawn(); }
  });
  const anyway = setTimeout(() => { seen.disconnect(); drawn(); }, data.wait_ms);
  seen.observe(document.body, { subtree: true, childList: true });
}
"""


@cache
def _files(kind: str) -> dict[str, str]:
    """Element name -> its hashed `js` or `css` file in the installed Streamlit (hashes change by
    release); an element with none, or with several (an unknown layout), gets no head start."""
    folder = Path(st.__file__).parent / "static" / "static" / kind
    found: dict[str, str] = {}
    for name in (DATAFRAME, PLOTLY):
        files = sorted(folder.glob(f"{name}.*.{kind}"))
        if len(files) == 1:
            found[name] = files[0].name
    return found


@cache
def _component() -> Any:
    return st.components.v2.component("registry_dashboard.prefetch", js=_JS)


def prefetch(
    *elements: str, after_first_table: bool = False, on_drawn: Callable[[], None] | None = None
) -> None:
    """Start loading the code of these elements (DATAFRAME, PLOTLY) in the browser, out of sight.

    `after_first_table`: wait until the page's first table cell is drawn (or 3 s, for a page with
    none), so that loading this code never delays the page's first content. `on_drawn`: called back,
    in a rerun of the page, once that wait is over. Mounted in the sidebar, where an empty element
    takes no room from the page's content.
    """
    chunks = [_files("js")[name] for name in elements if name in _files("js")]
    if not chunks and on_drawn is None:
        return
    data = {
        "chunks": chunks,
        "styles": [_files("css")[name] for name in elements if name in _files("css")],
        "after": _FIRST_CELL if after_first_table else None,
        "wait_ms": 3000,
        "report": on_drawn is not None,
    }
    callbacks = {"on_drawn_change": on_drawn} if on_drawn else {}
    with st.sidebar:
        _component()(data=data, key=f"prefetch.{'.'.join(elements)}", height=0, **callbacks)
