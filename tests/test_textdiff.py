"""Text diffs of artifacts: difflib's unified diff, size cap and binary refusal; then two real runs."""

from __future__ import annotations

import pytest

from registry.errors import NotFound, Refused
from registry.store.textdiff import artifact_diff, as_text, diffable_paths, unified_diff
from tests.run_data import make_logged_model, make_run
from tests.stack import create_experiment


def test_unified_diff_of_two_texts():
    text, cut = unified_diff("a\nb\nc\n", "a\nB\nc\n", "old/x", "new/x")
    assert not cut
    assert text.splitlines() == ["--- old/x", "+++ new/x", "@@ -1,3 +1,3 @@", " a", "-b", "+B", " c"]
    assert unified_diff("same\n", "same\n", "a", "b") == ("", False)


def test_unified_diff_is_cut_at_max_lines():
    old = "".join(f"{i}\n" for i in range(100))
    text, cut = unified_diff(old, "", "a", "b", max_lines=10)
    assert cut and len(text.splitlines()) == 10


def test_as_text_refuses_big_and_binary_files():
    assert as_text(b"hello", "x") == "hello"
    with pytest.raises(Refused, match="over the diff limit"):
        as_text(b"x" * 11, "x", max_bytes=10)
    with pytest.raises(Refused, match="binary"):
        as_text(b"\x00\x01\x02", "weights.bin")
    with pytest.raises(Refused, match="UTF-8"):
        as_text(b"\xff\xfe\xfa", "latin")


def test_artifact_diff_between_two_runs(http_client, http_settings):
    eid = create_experiment(http_client, http_settings)
    a = make_run(http_client, eid, "a")
    b = make_run(http_client, eid, "b")
    http_client.log_text(a, "numpy==2.0\npandas==3.0\n", "requirements.txt")
    http_client.log_text(b, "numpy==2.1\npandas==3.0\n", "requirements.txt")
    http_client.log_text(b, "only b\n", "notes.txt")
    http_client.log_dict(a, {"same": 1}, "config.json")
    http_client.log_dict(b, {"same": 1}, "config.json")
    http_client.log_text(a, "\x00binary", "blob.txt")
    http_client.log_text(b, "\x00binary2", "blob.txt")
    make_logged_model(http_client, eid, a, files={"requirements.txt": b"scikit-learn==1.5\n"})
    make_logged_model(http_client, eid, b, files={"requirements.txt": b"scikit-learn==1.6\n"})

    changed = artifact_diff(http_client, a, b, "requirements.txt")
    assert not changed.identical
    assert "-numpy==2.0" in changed.diff and "+numpy==2.1" in changed.diff and " pandas==3.0" in changed.diff
    assert artifact_diff(http_client, a, b, "config.json").identical
    added = artifact_diff(http_client, a, b, "notes.txt")
    assert added.only_in == b and "--- /dev/null" in added.diff and "+only b" in added.diff
    with pytest.raises(Refused, match="binary"):
        artifact_diff(http_client, a, b, "blob.txt")
    with pytest.raises(NotFound):
        artifact_diff(http_client, a, b, "missing.txt")
    model = artifact_diff(http_client, a, b, "logged-model:model/requirements.txt")
    assert "-scikit-learn==1.5" in model.diff and "+scikit-learn==1.6" in model.diff

    paths = diffable_paths(http_client, [a, b])
    assert paths[:4] == ["blob.txt", "config.json", "notes.txt", "requirements.txt"]
    assert "logged-model:model/MLmodel" in paths and "logged-model:model/requirements.txt" in paths


def test_a_file_over_the_cap_is_refused_before_the_diff(http_client, http_settings):
    eid = create_experiment(http_client, http_settings)
    a, b = make_run(http_client, eid, "a"), make_run(http_client, eid, "b")
    for run_id in (a, b):
        http_client.log_text(run_id, "x" * 5000, "big.txt")
    with pytest.raises(Refused, match="over the diff limit"):
        artifact_diff(http_client, a, b, "big.txt", max_bytes=1000)
    with pytest.raises(NotFound, match="no such run"):
        artifact_diff(http_client, a, "0123456789abcdef0123456789abcdef", "big.txt")
    with pytest.raises(NotFound, match="no such run"):
        artifact_diff(http_client, a, "0123456789abcdef0123456789abcdef", "logged-model:model/MLmodel")
