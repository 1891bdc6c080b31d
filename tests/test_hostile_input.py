"""Hostile input: fuzzed filters, artifact paths that try to leave their root, huge and binary files.

A filter or an order_by typed by a user (or sent by an assistant over MCP) must come back as a page
of runs or as BadInput with a message that says what to fix: never another exception, never a crash.
Artifact paths are checked in every decoded form before any store is asked. Rendering hostile store
content in the pages is checked in tests/ui/test_hostile_content.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mlflow import MlflowClient
from mlflow.entities import FileInfo

from registry.errors import BadInput
from registry.settings import Settings
from registry.store.artifacts import (
    PREVIEW_MAX_TEXT_CHARS,
    _Owner,
    _preview,
    classify,
    list_artifacts,
    safe_path,
)
from registry.store.runs import search_runs
from tests.cli import run_cli
from tests.run_data import make_run
from tests.stack import create_experiment

FUZZ = settings(
    max_examples=int(os.environ.get("REGISTRY_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
KEYS = [
    "metrics.accuracy", "params.lr", "tags.team", "attributes.run_name", "run_name", "status", "start_time",
    "run_id", "metrics.`acc uracy`", "tags.`mlflow.runName`", "datasets.name", "metric.x", "attribute.y",
    "metrics.", "`", "accuracy",
]  # fmt: skip
OPERATORS = ["=", "!=", ">", "<", ">=", "<=", "LIKE", "ILIKE", "IN", "NOT IN", "IS", "IS NOT", "==", "<>"]
VALUES = st.one_of(
    st.floats().map(repr),
    st.integers().map(str),
    st.text(max_size=12).map(lambda t: f"'{t}'"),
    st.text(max_size=12).map(lambda t: f'"{t}"'),
    st.lists(st.text(max_size=4).map(lambda t: f"'{t}'"), max_size=3).map(lambda v: f"({', '.join(v)})"),
    st.sampled_from(["NULL", "''", "'%'", "1e999999", "NaN", "'x'' OR ''1''=''1'", "0; DROP TABLE runs; --"]),
)
CLAUSES = st.tuples(st.sampled_from(KEYS) | st.text(max_size=16), st.sampled_from(OPERATORS), VALUES).map(
    " ".join
)
FILTERS = st.one_of(
    st.text(max_size=60),  # anything at all, control characters and RTL overrides included
    st.lists(CLAUSES, max_size=3).map(" AND ".join),
    st.lists(st.sampled_from([*KEYS, *OPERATORS, "AND", "OR", "(", ")", "'", ",", "--", "\x00", "\u202e"]),
             max_size=8).map(" ".join),
)  # fmt: skip
ORDERS = st.one_of(
    st.text(max_size=30),
    st.tuples(st.sampled_from(KEYS), st.sampled_from(["", " ASC", " DESC", " SIDEWAYS", " ASC DESC"])).map(
        "".join
    ),
)


@pytest.fixture(scope="module")
def store(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> tuple[MlflowClient, str]:
    """A direct SQLite store with three runs that have a metric, a param and a tag."""
    from tests.conftest import build_settings

    s: Settings = build_settings(request, "sqlite", tmp_path_factory.mktemp("hostile"))
    client = MlflowClient(s.effective_tracking_uri)
    exp = create_experiment(client, s, "hostile")
    for i, acc in enumerate((0.5, 0.7, 0.9)):
        make_run(client, exp, f"r{i}", params={"lr": f"0.{i}"}, metrics={"accuracy": acc}, tags={"team": "x"})
    return client, exp


def _search_or_bad_input(
    client: MlflowClient, exp: str, filter_string: str, order_by: list[str] | None
) -> None:
    try:
        page = search_runs(client, [exp], filter_string, order_by, max_results=5)
    except BadInput as exc:
        message = str(exc)
        assert message.startswith(("filter: ", "order_by: ")), message
        assert "Traceback" not in message and "object at 0x" not in message, message
        return
    assert len(page.runs) <= 5


@FUZZ
@given(filter_string=FILTERS)
def test_any_filter_gives_runs_or_a_readable_bad_input(store, filter_string: str) -> None:
    _search_or_bad_input(*store, filter_string, None)


@FUZZ
@given(order_by=ORDERS, filter_string=st.one_of(st.just(""), CLAUSES))
def test_any_order_by_gives_runs_or_a_readable_bad_input(store, order_by: str, filter_string: str) -> None:
    _search_or_bad_input(*store, filter_string, [order_by])


def test_sql_in_a_filter_stays_a_value(store) -> None:
    client, exp = store
    assert search_runs(client, [exp], "attributes.run_name = 'nope'' OR ''1''=''1'").runs.empty
    with pytest.raises(BadInput, match="filter: "):
        search_runs(client, [exp], "params.lr = '0.1'; DROP TABLE runs; --")
    assert len(search_runs(client, [exp]).runs) == 3


def test_a_metric_compared_with_a_word_says_to_use_a_number(store) -> None:
    client, exp = store
    with pytest.raises(BadInput, match="metrics are compared with numbers"):
        search_runs(client, [exp], "metrics.accuracy > NaN")
    with pytest.raises(BadInput, match="drop the quotes"):
        search_runs(client, [exp], "metrics.accuracy > '0.5'")


@pytest.mark.parametrize(
    "option",
    [
        ["--filter", "params.lr = '0.1'; DROP TABLE runs; -- \u202e"],
        ["--order-by", "metrics.accuracy SIDEWAYS"],
    ],
)
def test_the_cli_answers_nasty_filters_with_exit_2(sqlite_settings, option: list[str]) -> None:
    client = MlflowClient(sqlite_settings.effective_tracking_uri)
    create_experiment(client, sqlite_settings, "cli-hostile")
    done = run_cli(sqlite_settings, "runs", "cli-hostile", *option)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("bad input: ") and "Traceback" not in done.stderr


# artifact paths -----------------------------------------------------------------------------------
ESCAPES = [
    "../secrets.txt", "notes/../../x", "./../x", "..", "/etc/passwd", "~root/.ssh/id_rsa",
    "..\\x", "notes\\..\\..\\x", "C:\\Windows\\win.ini", "C:/Windows/win.ini",
    "s3://other-bucket/key", "file:///etc/passwd",
    "%2e%2e/secrets.txt", "%2E%2E%2Fsecrets.txt", "..%2fsecrets.txt", "notes/%2e%2e/%2e%2e/x",
    "%252e%252e%252fsecrets.txt", "%5c..%5cx", "%2fetc%2fpasswd", "\uff0e\uff0e/secrets.txt",
    "a\x00b", "a%00b", "notes/readme.txt\x00.png", "a\nb", "a\rb",
]  # fmt: skip


@pytest.mark.parametrize("path", ESCAPES)
def test_paths_that_try_to_leave_the_root_are_bad_input(path: str) -> None:
    with pytest.raises(BadInput, match="artifact path"):
        safe_path(path)
    with pytest.raises(BadInput, match="artifact path"):
        safe_path(path, allow_root=True)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("100%.txt", "100%.txt"),
        ("reports/a b.txt", "reports/a b.txt"),
        ("reports/a%20b.txt", "reports/a%20b.txt"),
        ("données/файл.json", "données/файл.json"),
        ("./notes//readme.txt", "notes/readme.txt"),
        ("notes/..hidden", "notes/..hidden"),
    ],
)
def test_harmless_names_pass(path: str, expected: str) -> None:
    assert safe_path(path) == expected


def test_the_store_is_not_asked_about_an_escaping_path(store) -> None:
    client, exp = store
    run_id = client.search_runs([exp], max_results=1)[0].info.run_id
    for path in ("%2e%2e/%2e%2e/etc/passwd", "\uff0e\uff0e/x"):
        with pytest.raises(BadInput, match="artifact path"):
            list_artifacts(client, run_id, path)


# huge and binary files ------------------------------------------------------------------------------
def _owner(files: dict[str, bytes], listed_size: dict[str, int | None], folder: Path) -> _Owner:
    """A fake run: lists `files` with the sizes given (None: the store did not say), downloads them."""

    def download(path: str, dst: str) -> str:
        target = Path(dst) / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files[path])
        return str(target)

    return _Owner(
        label="run fake",
        list_files=lambda _p: [FileInfo(p, False, listed_size.get(p, len(b))) for p, b in files.items()],
        download=download,
    )


def test_a_file_whose_listing_has_no_size_is_capped_after_download(tmp_path: Path) -> None:
    owner = _owner(
        {"big.bin": b"x" * 5000, "small.txt": b"hi"}, {"big.bin": None, "small.txt": None}, tmp_path
    )
    big = _preview(owner, "big.bin", max_bytes=1000)
    assert big.kind == "too_large" and big.size == 5000 and big.text is None
    assert _preview(owner, "small.txt", max_bytes=1000).text == "hi"


@pytest.mark.parametrize(
    ("path", "content", "kind"),
    [
        ("evil.svg", b'<svg onload="alert(1)"><script>alert(2)</script></svg>', "text"),
        ("page.html", b"<img src=x onerror=alert(1)>", "text"),
        ("fake.png", b"<script>alert(1)</script>", "text"),  # an image suffix is not enough
        # a PNG signature over garbage is a corrupt image: said so, offered as a download, never drawn
        ("fake.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "binary"),
        ("weights.bin", b"\x00\x01\x02" * 100, "binary"),
        ("latin1.txt", "caf\xe9".encode("latin-1"), "binary"),
        ("deep.json", b"[" * 50_000 + b"]" * 50_000, "text"),  # too deep to parse: shown as text
        ("deep.yaml", b"- " * 5_000 + b"x", "text"),
    ],
)
def test_markup_and_binary_files_are_never_previewed_as_anything_live(path: str, content: bytes, kind: str):
    preview = classify(path, content)
    assert preview.kind == kind
    assert preview.image is None or kind == "image"


def test_a_huge_text_is_cut_to_the_preview_limit() -> None:
    preview = classify("log.txt", b"line\n" * (PREVIEW_MAX_TEXT_CHARS // 2))
    assert preview.truncated and len(preview.text or "") == PREVIEW_MAX_TEXT_CHARS
