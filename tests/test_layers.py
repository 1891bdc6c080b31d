"""Imports point one way: the layers of docs/architecture.md, checked over the source with `ast`.

A new import that crosses a layer fails here with the file, the line and the rule, so the tree keeps
telling a newcomer where a behaviour lives. No module is imported: this reads the files only.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What each part of registry/ may import from registry/ (itself included); third-party is free.
BASE = ("registry.errors", "registry.settings", "registry.redaction")
MAY_IMPORT: dict[str, tuple[str, ...]] = {
    "registry.redaction": (),  # secrets out of messages: below even the errors that use it
    "registry.errors": ("registry.redaction",),
    "registry.settings": ("registry.errors", "registry.redaction"),
    "registry.domain": (*BASE, "registry.domain"),
    "registry.audit": (*BASE, "registry.domain", "registry.audit"),
    "registry.store": (*BASE, "registry.domain", "registry.audit", "registry.store"),
    "registry.access": (*BASE, "registry.domain", "registry.store", "registry.access"),
    "registry.notify": (*BASE, "registry.domain", "registry.audit", "registry.notify"),
    "registry.training": (*BASE, "registry.domain", "registry.store", "registry.training"),
    "registry.lifecycle": (
        *BASE,
        "registry.domain",
        "registry.access",
        "registry.store",
        "registry.audit",
        "registry.training",
        "registry.lifecycle",
    ),
    "registry.service": ("registry",),  # the façade wires every layer below the fronts
    "registry.fronts": (*BASE, "registry.domain", "registry.service", "registry.fronts"),
    "registry.__main__": ("registry.fronts",),
    "registry.__init__": (),
}
# Deliberate exceptions, each with its reason.
EXCEPTIONS = {
    # The demo seeds its promotion history through the service, as a user would (lazy import).
    ("registry.training.demo", "registry.service"),
    ("registry.training.demo", "registry.access.identity"),
    # A type-only import (under TYPE_CHECKING); to become a Protocol, as lifecycle/catalog.py has.
    ("registry.lifecycle.approvals", "registry.service"),
    # New on main at the last merge of issue 10 (08:50 UTC); to go through the service.
    ("registry.fronts.cli", "registry.audit.replay"),
    ("registry.fronts.webhooks", "registry.audit.deliveries"),
    ("registry.fronts.webhooks", "registry.store.client"),
}
PAGES_EXCEPTIONS = {  # (page module, imported module): the same, for pages
    ("pages.views.events", "registry.audit.replay"),
    ("pages.views.timeline", "registry.audit.replay"),
}
# Pages call the service; from the layers below they take only types and constants (CapWords or
# UPPER_CASE names), plus the pure rules of domain/ and who is acting (access.identity).
PAGES_MAY_CALL = ("registry.service", "registry.errors", "registry.settings", "registry.domain")
PAGES_MAY_CALL += ("registry.access.identity",)
NEVER_IN_REGISTRY = ("streamlit", "pages")


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _imports(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """(line, imported module, names imported from it) for every import, nested ones included."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _module_name(path).rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the package
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            yield node.lineno, base, [a.name for a in node.names]


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _layer(module: str) -> str:
    for layer in sorted(MAY_IMPORT, key=len, reverse=True):
        if _within(module, (layer,)):
            return layer
    raise AssertionError(f"{module}: not in any layer; add its package to MAY_IMPORT in {__file__}")


def _is_type_or_constant(name: str) -> bool:
    return name[:1].isupper()


def registry_violations() -> list[str]:
    found = []
    for path in sorted((ROOT / "registry").rglob("*.py")):
        module = _module_name(path)
        allowed = MAY_IMPORT[_layer(module)]
        for line, imported, _ in _imports(path):
            where = f"{path.relative_to(ROOT)}:{line}: {imported}"
            if _within(imported, NEVER_IN_REGISTRY):
                found.append(f"{where} (registry never imports streamlit or pages)")
            elif (
                _within(imported, ("registry",))
                and not _within(imported, allowed)
                and (module, imported) not in EXCEPTIONS
            ):
                found.append(f"{where} ({_layer(module)} may import only {', '.join(allowed) or 'nothing'})")
    return found


def pages_violations() -> list[str]:
    found = []
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").rglob("*.py"))]:
        for line, imported, names in _imports(path):
            if not _within(imported, ("registry",)) or _within(imported, PAGES_MAY_CALL):
                continue
            if (_module_name(path), imported) in PAGES_EXCEPTIONS:
                continue
            calls = [n for n in names if not _is_type_or_constant(n)] or ([] if names else [imported])
            if calls:
                found.append(
                    f"{path.relative_to(ROOT)}:{line}: {imported} ({', '.join(calls)}): pages call the "
                    "service (registry.service.Registry), not the layers below it"
                )
    return found


def test_registry_imports_point_down_the_layers() -> None:
    assert registry_violations() == []


def test_pages_reach_the_registry_through_the_service() -> None:
    assert pages_violations() == []


def test_every_registry_package_has_a_layer() -> None:
    packages = {p.name for p in (ROOT / "registry").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert {f"registry.{p}" for p in packages} <= set(MAY_IMPORT)


# Libraries that cost seconds to import and serve one rarely used feature: imported in the function
# that needs them, so no page's first visit waits for them (scipy: 0.5-2 s, measured in session 7,
# for the smoothing filter and the t quantile of a 95% CI band).
IMPORTED_WHERE_NEEDED = ("scipy",)


def top_level_heavy_imports() -> list[str]:
    """Module-level imports of IMPORTED_WHERE_NEEDED anywhere the app's pages can reach."""
    found = []
    for path in [
        ROOT / "app.py",
        *sorted((ROOT / "pages").rglob("*.py")),
        *sorted((ROOT / "registry").rglob("*.py")),
    ]:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in tree.body:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            found += [
                f"{path.relative_to(ROOT)}:{node.lineno}: {n}"
                for n in names
                if _within(n, IMPORTED_WHERE_NEEDED)
            ]
    return found


def test_slow_to_import_libraries_are_imported_where_they_are_used() -> None:
    assert top_level_heavy_imports() == []
