"""What every page shares: the service, cached reads, who is acting, and errors shown in place.

Pages stay thin: they call `registry/` through these helpers and render. Nothing here decides who
may do what; the service does. Errors from the service become a message where the problem is, and
the rest of the page goes on rendering.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd
import streamlit as st

from registry.access.identity import ANONYMOUS, Actor, oidc_name
from registry.domain.lookalike import reveal_in_frame, reveal_invisible
from registry.errors import NotFound, RegistryError, Unreachable
from registry.settings import Settings, load_settings

if TYPE_CHECKING:
    from registry.service import Registry

log = logging.getLogger("registry.ui")
T = TypeVar("T")
READ_TTL_S = 30
# How long "does the tracking store answer" is believed: app.py's ping (its banner) and the Overview's
# store status. Short, so a store that comes back is seen within seconds even without Retry.
PING_TTL_S = 10
STATUS_TTL_S = 10
_AUTOLINK = re.compile(r"(\\:/|www\\\.|@)", re.IGNORECASE)
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def plain(text: object) -> str:
    """Store content for places that render markdown (headers, captions, messages): inert text.

    Run names, tags and error messages can hold markdown or HTML; escaping every markdown character
    makes them show literally. Tables (`st.dataframe`) and `st.text` need no escaping.
    """
    # Direction overrides and zero-width spaces make one name look like another ("evil\u202etxt.exe"
    # shows as "evilexe.txt") and reverse the text after them: show them as what they are.
    shown = reveal_invisible(text)
    escaped = _MD_SPECIAL.sub(r"\\\1", shown)
    # Markdown turns bare addresses into links even with ':' escaped; a zero-width space stops it.
    return _AUTOLINK.sub(lambda m: m.group(0)[:-1] + "\u200b" + m.group(0)[-1], escaped)


def table(data: Any, **kwargs: Any) -> Any:
    """`st.dataframe` for store content: invisible characters shown as ‹U+XXXX›, so two names that
    differ only by one never look the same (registry/domain/lookalike.py)."""
    if isinstance(data, pd.DataFrame):
        data = reveal_in_frame(data)
    return st.dataframe(data, **kwargs)


def settings() -> Settings:
    """The settings the environment gives now; read once per distinct environment.

    A page run asks for them a dozen times or more (every cached read keys by the stores), and
    pydantic-settings reads and validates the whole environment each time (2-4 ms, 10% of a Run
    page rerun). Keyed by the environment itself, a changed variable is still seen at once.
    """
    return _settings_for(tuple(sorted(os.environ.items())))


@functools.lru_cache(maxsize=4)
def _settings_for(environment: tuple[tuple[str, str], ...]) -> Settings:
    return load_settings()


def settings_key(s: Settings | None = None) -> str:
    """A key naming the stores in use, so caches never mix two stores (tests switch between them)."""
    s = s or settings()
    return "|".join((s.effective_tracking_uri, s.effective_registry_uri, s.effective_audit_url))


@st.cache_resource(show_spinner=False)
def _registry_for(key: str) -> Registry:
    # Imported here, not at the top: importing MLflow takes seconds on a cold server, and app.py
    # imports this module before `st.navigation`, which should reach the browser first.
    from registry.service import Registry

    return Registry.connect(settings())


def registry() -> Registry:
    """The service for the configured stores, made once per process."""
    return _registry_for(settings_key())


def cached_read(func: Callable[..., T], *args: Any, ttl: int = READ_TTL_S, **kwargs: Any) -> T:
    """Call `func(registry, *args, **kwargs)` through `st.cache_data` keyed by the stores in use.

    `func` must be a module-level function whose arguments after the registry are hashable.
    """
    return _cached(ttl)(settings_key(), _func_key(func), func, args, tuple(sorted(kwargs.items())))


def _func_key(func: Callable[..., Any]) -> str:
    """st.cache_data cannot hash a function argument: key the cache by where the function is defined."""
    code = getattr(func, "__code__", None)
    return f"{code.co_filename if code else func.__module__}:{func.__qualname__}"


_CACHES: dict[int, Callable[..., Any]] = {}


def _cached(ttl: int) -> Callable[..., Any]:
    if ttl not in _CACHES:

        def run(key: str, func_key: str, _func: Callable[..., Any], args: tuple, kwargs: tuple) -> Any:
            return _func(_registry_for(key), *args, **dict(kwargs))

        _CACHES[ttl] = st.cache_data(ttl=ttl, show_spinner=False)(_own_cache(run, ttl))
    return _CACHES[ttl]


def _own_cache(func: Callable[..., T], ttl: int) -> Callable[..., T]:
    """Name a nested cached function after its TTL, so each TTL gets a cache of its own.

    Streamlit keys a cache by the function's module, qualified name and source, so the same nested
    function decorated with two TTLs shares one cache (streamlit#11157); with a third TTL on a page,
    reads were missed on every rerun (checked on streamlit 1.67.0).
    """
    func.__qualname__ = f"{func.__qualname__}.ttl{ttl}"
    return func


def shared_read(func: Callable[..., T], *args: Any, ttl: int = READ_TTL_S) -> T:
    """Like `cached_read`, but every session gets the same object, not a copy: for large frames.

    `st.cache_data` unpickles a fresh copy for each caller (a 10k-run table is tens of MB and a
    quarter second each time); `st.cache_resource` hands out the one object. Callers must treat it
    as read-only (select and assign into new frames, never change it in place).
    """
    return _shared(ttl)(settings_key(), _func_key(func), func, args)


_SHARED: dict[int, Callable[..., Any]] = {}


def _shared(ttl: int) -> Callable[..., Any]:
    if ttl not in _SHARED:

        def run(key: str, func_key: str, _func: Callable[..., Any], args: tuple) -> Any:
            return _func(_registry_for(key), *args)

        _SHARED[ttl] = st.cache_resource(ttl=ttl, show_spinner=False)(_own_cache(run, ttl))
    return _SHARED[ttl]


def after_write() -> None:
    """Forget cached reads after an action, so the page shows the new state at once."""
    st.cache_data.clear()
    for shared in _SHARED.values():
        shared.clear()


_app_entered = False  # see through_app
_run = threading.local()  # `inside_app`: this script thread runs app.py, which runs the page


@contextmanager
def inside_app() -> Iterator[None]:
    """app.py runs its page within this, so the page's `through_app` knows that app.py came first."""
    _run.inside = True
    try:
        yield
    finally:
        _run.inside = False


def through_app() -> None:
    """Make sure this page runs inside app.py, never on its own as an old-style `pages/` page.

    Streamlit 1.67 starts every server in the legacy multipage mode when a `pages/` folder sits
    beside the main script, and leaves it only once `st.navigation` has run. Until someone opens the
    root URL, a deep link such as `/models?model=x` runs `pages/models.py` directly: without
    app.py's navigation, page config, connection banner, first-paint come-back and, under OIDC, its
    login gate. Each page calls this first; run on its own, it switches the legacy mode off and
    reruns, so app.py runs and `st.navigation` resolves the same URL.

    Two sessions starting together: the second's run may have been sent down the legacy path just
    before the first switched the mode off. It finds the mode off but did not come through app.py,
    so it reruns too (its charts waited for a come-back that only app.py registers, forever).

    The switch is made once per process: on a server nothing turns the legacy mode back on, while
    AppTest turns it on for every run, where a rerun would swallow the click that started the run.
    """
    from pages.views.streamlit_internals import in_legacy_pages_mode, leave_legacy_pages_mode

    global _app_entered
    if getattr(_run, "inside", False):
        return
    if not in_legacy_pages_mode():
        st.rerun()
    if _app_entered:
        return
    _app_entered = True
    leave_legacy_pages_mode()
    st.rerun()


def current_actor() -> Actor:
    """Who is using the dashboard: the identity mode decides how the name is learned.

    - local: the configured actor (the OS user unless REGISTRY_ACTOR says otherwise);
    - oidc: the logged-in user's verified email from `st.user` (registry/identity.oidc_name);
    - header: a trusted proxy header, only where registry/identity allows it.
    The role always comes from the service.
    """
    s = settings()
    reg = registry()
    if s.identity == "oidc":
        name = oidc_name(st.user.to_dict()) if st.user.get("is_logged_in") else ""
        return reg.actor(name) if name else ANONYMOUS
    if s.identity == "header":
        from registry.access.identity import actor_from_headers

        headers = st.context.headers  # every value of a repeated header: see actor_from_headers
        return actor_from_headers({name: headers.get_all(name) for name in headers}, s)
    return reg.actor()


def _auth_configured() -> bool:
    """Whether `.streamlit/secrets.toml` (or `--secrets.files`) has the `[auth]` provider section."""
    try:
        return "auth" in st.secrets
    except FileNotFoundError:  # no secrets file at all (StreamlitSecretNotFoundError is one)
        return False


def needs_login() -> bool:
    """True under OIDC until the user logs in: then the app shows only the login page.

    Tracking data (params, artifacts, dataset names) is often as sensitive as the registry, and a
    team that set up an identity provider wants to know who looks: so nothing is readable before a
    login; anyone who can log in may read, and what they may change is their role's business.
    """
    return settings().identity == "oidc" and not st.user.get("is_logged_in")


def login_page() -> None:
    """The only page before an OIDC login: a Log in button, or what to configure if it cannot work.

    A page of its own, not a button above `st.navigation`: a widget there loses its click once the
    navigation has chosen a file page (checked on streamlit 1.67).
    """
    st.title("MLflow Registry Dashboard")
    if not _auth_configured():
        st.error(
            "REGISTRY_IDENTITY is oidc, but no [auth] section was found in .streamlit/secrets.toml: "
            "configure the identity provider there (see docs/identity.md).",
            icon=":material/lock:",
        )
        return
    st.info("Log in with your organisation's account to use the dashboard.", icon=":material/lock:")
    if st.button("Log in", key="auth.login", type="primary"):
        st.login()


def identity_sidebar() -> None:
    """Who is acting and with what role; under OIDC their name as the provider gives it, and Log out."""
    actor = current_actor()
    if settings().identity != "oidc":
        st.caption(f"Signed in as **{plain(actor.name)}** ({actor.role})")
        return
    shown = str(st.user.get("name") or "").strip()
    if shown and shown != actor.name:
        st.caption(f"Signed in as **{plain(shown)}** ({plain(actor.name)}, {actor.role})")
    else:
        st.caption(f"Signed in as **{plain(actor.name)}** ({actor.role})")
    if st.button("Log out", key="auth.logout"):
        st.logout()


def show_error(exc: BaseException, where: str = "") -> None:
    """One way to show a failure: the service's typed message, never a traceback."""
    prefix = f"{plain(where)}: " if where else ""
    if isinstance(exc, Unreachable):
        st.error(f"{prefix}{plain(exc)}", icon=":material/power_off:")
    elif isinstance(exc, NotFound):
        st.warning(f"{prefix}{plain(exc)}", icon=":material/search:")
    elif isinstance(exc, RegistryError):
        st.error(f"{prefix}{plain(exc)}", icon=":material/warning:")
    else:
        log.exception("unexpected error in %s", where or "page")
        st.error(f"{prefix}unexpected error ({exc.__class__.__name__}); the details are in the server log.")


@contextmanager
def section(where: str = "") -> Iterator[None]:
    """Render a part of a page; if it fails, show why there and let the rest of the page render."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - keeps the page alive; st.rerun and st.stop pass through
        show_error(exc, where)


def query_param(name: str, default: str | None = None) -> str | None:
    value = st.query_params.get(name)
    return value if value not in (None, "") else default


def query_list(name: str) -> list[str]:
    """Comma-separated list query params (`runs=a,b,c`), so URLs stay short and shareable."""
    return [v for v in (st.query_params.get(name) or "").split(",") if v]


def set_query(**params: str | list[str] | None) -> None:
    """Update the URL with the current view; None or empty removes a parameter."""
    for key, value in params.items():
        if isinstance(value, list):
            value = ",".join(value)
        if value in (None, ""):
            st.query_params.pop(key, None)
        elif st.query_params.get(key) != value:
            st.query_params[key] = value


def connection_banner() -> bool:
    """A banner with a retry when the tracking store does not answer; True when it does."""
    status = cached_read(_ping, ttl=PING_TTL_S)
    if status is None:
        return True
    st.error(f"The tracking store does not answer: {plain(status)}", icon=":material/power_off:")
    st.button("Retry", key="retry-connection", on_click=_retry)
    return False


def _retry() -> None:
    """Forget the cached reads before the run the click starts, so it asks the stores again.

    A callback, not `if st.button(...)`: Streamlit calls it for the click even when that run no
    longer draws the button. The ping's answer may have run out and found the store back while a
    read of the outage is still cached (the Overview's store status); that click was lost.
    """
    st.cache_data.clear()


def _ping(reg: Registry) -> str | None:
    """None when the tracking store answers, else why not."""
    return reg.ping()
