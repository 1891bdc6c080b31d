"""Other pages' modules are imported in the background once the first page ran (pages/views/preload.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_view_module_is_imported_by_one_background_thread() -> None:
    # A fresh interpreter: in this test process every module is imported already.
    script = """
import sys
from pages.views.preload import import_every_page_in_background
assert "pages.views.charts_view" not in sys.modules
first = import_every_page_in_background()
assert import_every_page_in_background() is first  # once per process
first.join(120)
import pkgutil, pages.views
views = pkgutil.iter_modules(pages.views.__path__, "pages.views.")
missing = [m.name for m in views if m.name not in sys.modules]
missing += [name for name in ("pandas.io.formats.style",) if name not in sys.modules]
print("missing", missing)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "missing []" in done.stdout
