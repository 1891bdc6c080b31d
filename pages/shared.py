"""What every page shares: the service, cached reads, who is acting, and errors shown in place.

Pages stay thin: they call `registry/` through these helpers and render. Nothing here decides who
may do what; the service does. Errors from the service become a message where the problem is, and
the rest of the page goes on rendering.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import streamlit as st

from registry.errors import NotFound, RegistryError, Unreachable
from registry.identity import Actor
from registry.service import Registry
from registry.settings import Settings, load_settings

log = logging.getLogger("registry.ui")
T = TypeVar("T")
READ_TTL_S = 30
_AUTOLINK = re.compile(r"(\\:/|www\\\.|@)", re.IGNORECASE)
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def plain(text: object) -> str:
    """Store content for places that render markdown (headers, captions, messages): inert text.

    Run names, tags and error messages can hold markdown or HTML; escaping every markdown character
    makes them show literally. Tables (`st.dataframe`) and `st.text` need no escaping.
    """
    escaped = _MD_SPECIAL.sub(r"\\\1", str(text))
    # Markdown turns bare addresses into links even with ':' escaped; a zero-width space stops it.
    return _AUTOLINK.sub(lambda m: m.group(0)[:-1] + "\u200b" + m.group(0)[-1], escaped)


def settings() -> Settings:
    return load_settings()


def settings_key(s: Settings | None = None) -> str:
    """A key naming the stores in use, so caches never mix two stores (tests switch between them)."""
    s = s or settings()
    return "|".join((s.effective_tracking_uri, s.effective_registry_uri, s.effective_audit_url))


@st.cache_resource(show_spinner=False)
def _registry_for(key: str) -> Registry:
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

        @st.cache_data(ttl=ttl, show_spinner=False)
        def run(key: str, func_key: str, _func: Callable[..., Any], args: tuple, kwargs: tuple) -> Any:
            return _func(_registry_for(key), *args, **dict(kwargs))

        _CACHES[ttl] = run
    return _CACHES[ttl]


def after_write() -> None:
    """Forget cached reads after an action, so the page shows the new state at once."""
    st.cache_data.clear()


def current_actor() -> Actor:
    """Who is using the dashboard: the identity mode decides how the name is learned.

    - local: the configured actor (the OS user unless REGISTRY_ACTOR says otherwise);
    - oidc: the logged-in user's email (or name) from `st.user`;
    - header: a trusted proxy header, only where registry/identity allows it.
    The role always comes from the service.
    """
    s = settings()
    reg = registry()
    if s.identity == "oidc":
        if not st.user.get("is_logged_in"):
            return Actor("anonymous", "viewer")
        return reg.actor(str(st.user.get("email") or st.user.get("name") or "anonymous"))
    if s.identity == "header":
        from registry.identity import actor_from_headers

        return actor_from_headers(dict(st.context.headers), s, st.context.ip_address)
    return reg.actor()


def show_error(exc: BaseException, where: str = "") -> None:
    """One way to show a failure: the service's typed message, never a traceback."""
    prefix = f"{plain(where)}: " if where else ""
    if isinstance(exc, Unreachable):
        st.error(f"{prefix}{plain(exc)}", icon="🔌")
    elif isinstance(exc, NotFound):
        st.warning(f"{prefix}{plain(exc)}", icon="🔎")
    elif isinstance(exc, RegistryError):
        st.error(f"{prefix}{plain(exc)}", icon="⚠️")
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
    status = cached_read(_ping, ttl=10)
    if status is None:
        return True
    st.error(f"The tracking store does not answer: {plain(status)}", icon="🔌")
    if st.button("Retry", key="retry-connection"):
        st.cache_data.clear()
        st.rerun()
    return False


def _ping(reg: Registry) -> str | None:
    """None when the tracking store answers, else why not."""
    from registry.store import translate_errors

    try:
        with translate_errors("reach the tracking store"):
            reg.client.search_experiments(max_results=1)
    except RegistryError as exc:
        return str(exc)
    return None
