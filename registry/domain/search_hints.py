"""Readable messages for bad run filters and orderings, with a "did you mean" where we can tell.

MLflow's messages are written for its developers ("Invalid attribute key 'accuracy' specified. Valid
keys are '{...}'"), and a typo in a metric name is not an error at all: the search just comes back
empty. These pure functions turn both into what the user can do next, using the keys that the runs
of the experiment actually have.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from mlflow.entities import Run, RunInfo

# MLflow's parser names the kinds "metric", "parameter", "tag"; users type these prefixes.
PREFIX = {"metric": "metrics", "parameter": "params", "tag": "tags"}
RUN_ATTRIBUTES = tuple(sorted(RunInfo.get_searchable_attributes()))
_ATTRIBUTE_KEY = re.compile(r"Invalid attribute key '([^']*)'")
_CODE_PREFIX = re.compile(r"^[A-Z_]+: ")


@dataclass(frozen=True)
class KnownKeys:
    """Metric, param and tag names seen on a sample of runs: the vocabulary for suggestions."""

    metrics: frozenset[str] = frozenset()
    params: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()

    def of(self, kind: str) -> frozenset[str]:
        return {"metric": self.metrics, "parameter": self.params, "tag": self.tags}.get(kind, frozenset())

    def has(self, kind: str, key: str) -> bool:
        return key in self.of(kind)


def known_keys_from_runs(runs: Iterable[Run]) -> KnownKeys:
    metrics: set[str] = set()
    params: set[str] = set()
    tags: set[str] = set()
    for run in runs:
        metrics.update(run.data.metrics)
        params.update(run.data.params)
        tags.update(run.data.tags)
    return KnownKeys(frozenset(metrics), frozenset(params), frozenset(tags))


def qualified(kind: str, key: str) -> str:
    """`metrics.accuracy`, with backticks when the key would not parse bare."""
    bare = key if re.fullmatch(r"[A-Za-z0-9_.\-]+", key) else f"`{key}`"
    return f"{PREFIX.get(kind, kind)}.{bare}"


def suggest(kind: str | None, key: str, known: KnownKeys, n: int = 3) -> list[str]:
    """Close names, same kind first: `metrics.acc` suggests `metrics.accuracy` before `params.acc`.

    Matching on the bare key, not on `metrics.acc`, keeps the shared prefix from making every
    metric look close to every other.
    """
    order = ([kind] if kind in PREFIX else []) + [k for k in PREFIX if k != kind]
    for each in order:
        names = sorted(known.of(each))
        folded = key.casefold()
        same_but_case = [c for c in names if c.casefold() == folded]
        # a truncated name (`acc` for `accuracy`) scores low on similarity but is the likeliest typo
        contains = [c for c in names if len(folded) >= 3 and folded in c.casefold()]
        close = difflib.get_close_matches(key, names, n=n, cutoff=0.6)
        hits = [c for c in dict.fromkeys(same_but_case + close + contains) if not (each == kind and c == key)]
        if hits:
            return [qualified(each, c) for c in hits[:n]]
    return []


def unknown_key_message(where: str, kind: str, key: str, known: KnownKeys) -> str:
    """`filter: unknown column 'metrics.acc'; did you mean metrics.accuracy?`"""
    head = f"{where}: unknown column '{qualified(kind, key)}'"
    close = suggest(kind, key, known)
    if close:
        return f"{head}; did you mean {' or '.join(close)}?"
    names = sorted(known.of(kind))
    if names:
        shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
        return f"{head}; no run here has it (known {PREFIX[kind]}: {shown})"
    return f"{head}; no run here logs any {PREFIX[kind]}"


def explain_search_error(where: str, message: str, known: KnownKeys) -> str:
    """Rewrite MLflow's parser message for a filter or order_by into one with a next step."""
    message = _CODE_PREFIX.sub("", message.strip())
    attribute = _ATTRIBUTE_KEY.search(message)
    if attribute:
        key = attribute.group(1)
        matches = [qualified(kind, key) for kind in PREFIX if known.has(kind, key)]
        matches = matches or suggest(None, key, known)
        if matches:
            return f"{where}: '{key}' is not a run attribute; did you mean {' or '.join(matches)}?"
        return (
            f"{where}: '{key}' is not a run attribute; prefix with metrics., params., tags. or attributes. "
            f"(attributes: {', '.join(RUN_ATTRIBUTES)})"
        )
    if "Expected a quoted string value" in message:
        return f"{where}: {message}; params, tags and attributes are strings: put the value in single quotes"
    if "Expected numeric value type for metric" in message:
        found = message.rsplit("Found ", 1)[-1].strip()
        if found[:1] in ("'", '"'):
            return f"{where}: {message}; metrics are numbers: drop the quotes"
        return f"{where}: {message}; metrics are compared with numbers, e.g. metrics.accuracy > 0.9"
    if "'OR'" in message:
        return f"{where}: OR is not supported; MLflow filters combine conditions with AND only"
    if "Invalid clause" in message:
        return f"{where}: {message}; write conditions like metrics.accuracy > 0.9 AND params.lr = '0.1'"
    if "Invalid ordering key" in message or "Invalid order_by clause" in message:
        return f"{where}: {message}; write e.g. 'metrics.accuracy DESC' or 'start_time ASC'"
    return f"{where}: {message}"
