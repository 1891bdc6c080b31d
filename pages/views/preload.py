"""Every page's modules imported once per process, in the background, once the first page has run.

A page's first visit after the server started waits for its imports: plotly's figure classes, the
charts view, the stores it reads (1-3 s on a 2-core machine, several more under load) on top of its
reads. The first page of the first session still pays for its own; the others are imported while
its user reads it, so the next page they open, or the next session's, starts at once.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import threading

log = logging.getLogger(__name__)
_lock = threading.Lock()
_thread: threading.Thread | None = None


def import_every_page_in_background() -> threading.Thread:
    """Start the import of every module of pages/views (once per process); returns its thread."""
    global _thread
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=_import_views, name="preload-pages", daemon=True)
            _thread.start()
        return _thread


# Imported on first use inside a page, not by its modules: pandas' Styler (with jinja2) colours
# Compare's differences, 0.2 s on a first Compare.
_FIRST_USE = ("pandas.io.formats.style",)


def _import_views() -> None:
    import pages.views

    views = [m.name for m in pkgutil.iter_modules(pages.views.__path__, "pages.views.")]
    for name in [*views, *_FIRST_USE]:
        try:
            importlib.import_module(name)
        except Exception:  # the page that needs it shows the error in place
            log.warning("preloading %s failed; its page will import it again", name, exc_info=True)
