"""The MCP server through a real MCP client: `python -m registry mcp` as a subprocess over stdio.

One server per actor per module (a lead, and a viewer), against the session's tracking server, with
its own audit database. A test calls tools and then checks MLflow (aliases, versions, tags) with the
MLflow client and the audit log with `Registry.history`, not only what the tool answered.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import Client, ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types import CallToolResult
from mlflow import MlflowClient

from registry.domain.model_specs import ESTIMATORS
from registry.service import Registry
from registry.settings import Settings
from tests.conftest import build_settings
from tests.factories import make_model, unique
from tests.run_data import make_logged_model, make_run, register_logged_model
from tests.stack import FAKE_AWS, ServerProcess, child_env, create_experiment, free_port

ROOT = Path(__file__).resolve().parents[1]
LEAD, VIEWER = "ada", "victor"
TOOLS = {
    "list_experiments", "search_runs", "get_best_model", "compare_runs", "list_models", "model_versions",
    "model_history", "verify_audit", "plan", "track_model", "register_model", "promote", "archive",
    "rollback", "list_requests", "approve_request", "reject_request", "withdraw_request",
}  # fmt: skip
READ_ONLY = {"list_experiments", "search_runs", "get_best_model", "compare_runs", "list_models"}
READ_ONLY |= {"model_versions", "model_history", "verify_audit", "plan", "list_requests"}
CHANGES = {"promote", "archive", "rollback"}


def server_env(settings: Settings, actor: str) -> dict[str, str]:
    """Everything the server needs, explicitly: the stdio client passes on only PATH, HOME and the like."""
    return {
        **FAKE_AWS,
        "MLFLOW_TRACKING_URI": settings.effective_tracking_uri,
        "MLFLOW_S3_ENDPOINT_URL": settings.s3_endpoint_url or "",
        "REGISTRY_AUDIT_URL": settings.effective_audit_url,
        "REGISTRY_HOME": str(settings.home),
        "REGISTRY_ACTOR": actor,
        "REGISTRY_LEADS": LEAD,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "PYTHONUNBUFFERED": "1",
    }


@dataclass
class McpSession:
    """A client session held open on a background event loop, called from synchronous tests."""

    portal: BlockingPortal
    session: ClientSession
    log_path: Path

    def call(self, tool: str, **arguments: Any) -> CallToolResult:
        return self.portal.call(self.session.call_tool, tool, arguments)

    def ok(self, tool: str, **arguments: Any) -> dict[str, Any]:
        result = self.call(tool, **arguments)
        assert not result.is_error, f"{tool} failed: {self.text(result)}\n{self.log_tail()}"
        assert isinstance(result.structured_content, dict)
        return result.structured_content

    def error(self, tool: str, **arguments: Any) -> str:
        result = self.call(tool, **arguments)
        assert result.is_error, f"{tool} should have failed: {result.structured_content}"
        assert result.structured_content is None
        return self.text(result)

    @staticmethod
    def text(result: CallToolResult) -> str:
        return "\n".join(getattr(block, "text", "") for block in result.content)

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def mcp_session(settings: Settings, actor: str, log_path: Path) -> Iterator[McpSession]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "registry", "mcp"], env=server_env(settings, actor), cwd=ROOT
    )
    with ExitStack() as stack:
        errlog = stack.enter_context(log_path.open("w"))
        portal = stack.enter_context(start_blocking_portal())
        read, write = stack.enter_context(
            portal.wrap_async_context_manager(stdio_client(params, errlog=errlog))
        )
        session = ClientSession(read, write, read_timeout_seconds=180)
        opened = stack.enter_context(portal.wrap_async_context_manager(session))
        portal.call(opened.initialize)
        yield McpSession(portal, opened, log_path)


@pytest.fixture(scope="module")
def settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build_settings(request, "http", tmp_path_factory.mktemp("mcp"), actor=LEAD, leads_csv=LEAD)


@pytest.fixture(scope="module")
def lead(settings: Settings) -> Iterator[McpSession]:
    with mcp_session(settings, LEAD, settings.home / "mcp-lead.log") as session:
        yield session


@pytest.fixture(scope="module")
def viewer(settings: Settings) -> Iterator[McpSession]:
    with mcp_session(settings, VIEWER, settings.home / "mcp-viewer.log") as session:
        yield session


@pytest.fixture(scope="module")
def reg(settings: Settings) -> Registry:
    return Registry.connect(settings)


@pytest.fixture(scope="module")
def client(reg: Registry) -> MlflowClient:
    return reg.client


@dataclass(frozen=True)
class Experiment:
    name: str
    runs: dict[str, str]  # label -> run id
    model: str  # registered from run `good`


@pytest.fixture(scope="module")
def experiment(client: MlflowClient, settings: Settings) -> Experiment:
    """Three finished runs that differ in lr and accuracy, one failed run that scores best."""
    name = unique("mcp-exp")
    exp = create_experiment(client, settings, name)
    spec = {
        "low": ("0.1", 0.80, 0.50),
        "good": ("0.2", 0.92, 0.30),
        "mid": ("0.3", 0.85, 0.40),
    }
    runs = {
        label: make_run(
            client,
            exp,
            label,
            params={"lr": lr, "depth": "3"},
            metrics={"val_accuracy": acc, "val_loss": loss},
        )
        for label, (lr, acc, loss) in spec.items()
    }
    runs["failed"] = make_run(client, exp, "failed", params={"lr": "9"}, metrics={"val_accuracy": 0.99})
    client.set_terminated(runs["failed"], "FAILED")
    model = unique("mcp-best")
    client.create_registered_model(model)
    register_logged_model(client, model, make_logged_model(client, exp, runs["good"]))
    return Experiment(name, runs, model)


@pytest.fixture
def gated_model(client: MlflowClient) -> str:
    """v1 acc 0.8, v2 acc 0.9, v3 acc 0.5, with a gate on acc: v3 cannot replace v2 without force."""
    return make_model(
        client, [{"acc": 0.8}, {"acc": 0.9}, {"acc": 0.5}], model_tags={"registry.gate.metric": "acc"}
    )


def aliases(client: MlflowClient, model: str) -> dict[str, str]:
    return dict(client.get_registered_model(model).aliases)


def outcomes(reg: Registry, model: str) -> list[tuple[str, str | None, str, str, str]]:
    return [(a.action, a.to_version, a.actor, a.role, a.outcome) for a in reg.history(model)]


# the catalogue --------------------------------------------------------------------------------------
def test_every_tool_is_listed_with_a_description_and_an_input_schema(lead):
    tools = {t.name: t for t in lead.portal.call(lead.session.list_tools).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description and len(tool.description) > 40, tool.name
        assert tool.input_schema["type"] == "object"
        assert tool.output_schema and tool.output_schema["type"] == "object"
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is (tool.name in READ_ONLY), tool.name
    for name in CHANGES:
        assert "reason" in tools[name].input_schema["required"]
        assert "plan_token" in tools[name].input_schema["properties"]
        assert tools[name].annotations.destructive_hint is True
    assert set(tools["track_model"].input_schema["properties"]["dataset"]["enum"]) == {
        "iris", "wine", "breast_cancer", "diabetes",
    }  # fmt: skip
    assert tools["search_runs"].input_schema["properties"]["max_results"]["maximum"] == 200
    assert all(name in tools["track_model"].description for name in ESTIMATORS)  # the list an assistant reads


def test_server_instructions_name_the_actor_and_the_plan_first_rule(lead):
    initialized = lead.portal.call(lead.session.initialize)
    assert "ada (lead)" in initialized.instructions
    assert "call plan" in initialized.instructions


# reads ----------------------------------------------------------------------------------------------
def test_search_runs_filters_sorts_and_pages(lead, experiment):
    first = lead.ok(
        "search_runs",
        experiment=experiment.name,
        filter="metrics.val_accuracy > 0.81",
        order_by=["metrics.val_accuracy DESC"],
        max_results=2,
    )
    assert [r["run_id"] for r in first["runs"]] == [experiment.runs["failed"], experiment.runs["good"]]
    assert first["runs"][1]["params.lr"] == "0.2" and first["runs"][1]["metrics.val_loss"] == 0.3
    assert first["next_page_token"]
    rest = lead.ok(
        "search_runs",
        experiment=experiment.name,
        filter="metrics.val_accuracy > 0.81",
        order_by=["metrics.val_accuracy DESC"],
        max_results=2,
        page_token=first["next_page_token"],
    )
    assert [r["run_id"] for r in rest["runs"]] == [experiment.runs["mid"]] and not rest["next_page_token"]


def test_a_bad_filter_is_a_tool_error_with_a_readable_message(lead, experiment):
    syntax = lead.error("search_runs", experiment=experiment.name, filter="metrics.val_accuracy >>> 0.9")
    assert syntax.startswith("Error executing tool search_runs: bad input: filter")
    unknown = lead.error("search_runs", experiment=experiment.name, filter="metrics.val_acc > 0.9")
    assert "did you mean" in unknown and "val_accuracy" in unknown
    missing = lead.error("search_runs", experiment=unique("nope"))
    assert "not found: experiment" in missing
    for text in (syntax, unknown, missing):
        assert "Traceback" not in text


def test_get_best_model_returns_the_best_finished_run_and_its_versions(lead, experiment):
    best = lead.ok("get_best_model", experiment=experiment.name, metric="val_accuracy")
    assert best["direction"] == "max" and best["value"] == 0.92
    assert best["run"]["run_id"] == experiment.runs["good"]
    assert best["run"]["params"] == {"lr": "0.2", "depth": "3"}
    assert [(v["name"], v["version"]) for v in best["registered_versions"]] == [(experiment.model, "1")]
    assert len(best["logged_models"]) == 1

    lowest_loss = lead.ok("get_best_model", experiment=experiment.name, metric="metrics.val_loss")
    assert lowest_loss["direction"] == "min" and lowest_loss["run"]["run_id"] == experiment.runs["good"]
    any_status = lead.ok(
        "get_best_model", experiment=experiment.name, metric="val_accuracy", finished_only=False
    )
    assert any_status["run"]["run_id"] == experiment.runs["failed"]
    assert "did you mean" in lead.error("get_best_model", experiment=experiment.name, metric="val_acc")


def test_compare_runs_shows_only_the_differences_and_the_best(lead, experiment):
    ids = [experiment.runs["low"], experiment.runs["good"], "0" * 32]
    compared = lead.ok("compare_runs", run_ids=ids)
    fields = {f["field"]: f for f in compared["fields"]}
    assert compared["missing"] == ["0" * 32]
    assert "params.depth" not in fields and compared["identical_fields_left_out"] >= 1
    assert fields["params.lr"]["values"] == {experiment.runs["low"]: "0.1", experiment.runs["good"]: "0.2"}
    assert compared["best"]["metrics.val_accuracy"] == [experiment.runs["good"]]
    assert compared["best"]["metrics.val_loss"] == [experiment.runs["good"]]
    everything = lead.ok("compare_runs", run_ids=ids, only_differences=False)
    assert {"params.depth": False}.items() <= {f["field"]: f["differs"] for f in everything["fields"]}.items()
    assert "at least 2 runs" in lead.error("compare_runs", run_ids=[experiment.runs["low"]])


def test_listing_experiments_models_and_versions(lead, experiment):
    names = [e["name"] for e in lead.ok("list_experiments", search=experiment.name)["experiments"]]
    assert names == [experiment.name]
    assert [m["name"] for m in lead.ok("list_models", search=experiment.model)["models"]] == [
        experiment.model
    ]
    versions = lead.ok("model_versions", model=experiment.model)
    assert versions["mode"] == "aliases" and versions["holders"]["production"] is None
    assert [v["version"] for v in versions["versions"]] == ["1"]


# additions ------------------------------------------------------------------------------------------
def test_track_model_trains_logs_and_registers(lead, client, reg):
    name = unique("mcp-tracked")
    tracked = lead.ok(
        "track_model",
        name=name,
        estimator="LogisticRegression",
        dataset="iris",
        params={"C": 0.5, "max_iter": 300},
        tags={"team": "search"},
    )
    assert tracked["version"] == "1" and tracked["model_uri"].startswith("models:/m-")
    assert tracked["metrics"]["val_accuracy"] > 0.8
    run = client.get_run(tracked["run_id"])
    assert run.info.status == "FINISHED" and run.data.params["C"] == "0.5"
    assert run.data.params["estimator"] == "LogisticRegression" and run.data.tags["team"] == "search"
    assert run.data.metrics["val_accuracy"] == tracked["metrics"]["val_accuracy"]
    version = client.get_model_version(name, "1")
    assert version.status == "READY" and version.tags["registry.registered_by"] == LEAD
    assert reg.history(name) == []  # adding a version is not a lifecycle change


def test_track_without_registering_then_register_the_run(lead, client):
    name = unique("mcp-later")
    tracked = lead.ok(
        "track_model",
        name=name,
        estimator="Ridge",
        dataset="diabetes",
        params={"alpha": 0.5},
        register=False,
        experiment=unique("mcp-ridge"),
    )
    assert tracked["version"] is None and set(tracked["metrics"]) == {"val_rmse", "val_mae", "val_r2"}
    registered = lead.ok("register_model", source=tracked["run_id"], model=name, description="from chat")
    assert registered["version"] == "1" and registered["source"] == tracked["model_uri"]
    again = lead.ok("register_model", source=tracked["model_uri"], model=name)
    assert again["version"] == "2"
    version = client.get_model_version(name, "1")
    assert version.run_id == tracked["run_id"] and version.description == "from chat"


def test_track_model_refuses_what_is_not_on_the_allow_list_and_writes_nothing(lead, client):
    name = unique("mcp-refused")
    text = lead.error("track_model", name=name, estimator="builtins.eval", dataset="iris")
    assert "bad input: estimator 'builtins.eval' is not allowed" in text and "RandomForestClassifier" in text
    assert "above this server's limit" in lead.error(
        "track_model",
        name=name,
        estimator="RandomForestClassifier",
        dataset="iris",
        params={"n_estimators": 10**6},
    )
    schema = lead.error("track_model", name=name, estimator="SVC", dataset="mnist")
    assert "dataset" in schema
    reserved = lead.error(
        "track_model", name=name, estimator="SVC", dataset="iris", tags={"registry.archived": "true"}
    )
    assert "bad input: tags: names starting registry. are the registry's own (registry.archived)" in reserved
    assert client.get_experiment_by_name(name) is None
    assert client.search_registered_models(f"name = '{name}'") == []


def test_register_model_from_a_run_without_a_model_says_so(lead, experiment):
    text = lead.error("register_model", source=experiment.runs["low"], model=unique("m"))
    assert "bad input: run" in text and "logged no model" in text


# the lifecycle --------------------------------------------------------------------------------------
def test_plan_then_promote_rollback_and_archive(lead, client, reg, gated_model):
    model = gated_model
    plan = lead.ok("plan", action="promote", model=model, version="1")
    assert plan["allowed"] and plan["actor"] == {"name": LEAD, "role": "lead"}
    assert any("alias 'production'" in c for c in plan["changes"]) and plan["plan_token"]
    assert "promote(" in plan["apply_with"]
    assert aliases(client, model) == {}  # a plan changes nothing

    done = lead.ok("promote", model=model, version="1", reason="first release", plan_token=plan["plan_token"])
    assert done["outcome"] == "done" and aliases(client, model) == {"production": "1"}
    lead.ok("promote", model=model, version="2", reason="better acc")
    assert aliases(client, model) == {"production": "2"}

    rollback_plan = lead.ok("plan", action="rollback", model=model)
    assert rollback_plan["version"] == "1"
    lead.ok("rollback", model=model, reason="v2 misbehaves", plan_token=rollback_plan["plan_token"])
    assert aliases(client, model) == {"production": "1"}

    lead.ok("archive", model=model, version="2", reason="broken")
    assert client.get_model_version(model, "2").tags["registry.archived"] == "true"

    assert outcomes(reg, model) == [
        ("promote", "1", LEAD, "lead", "done"),
        ("promote", "2", LEAD, "lead", "done"),
        ("rollback", "1", LEAD, "lead", "done"),
        ("archive", "2", LEAD, "lead", "done"),
    ]
    history = lead.ok("model_history", model=model)
    assert [a["reason"] for a in history["attempts"]] == [
        "first release",
        "better acc",
        "v2 misbehaves",
        "broken",
    ]
    assert history["replayed"]["production"] == "1" and history["drift"] == []


def test_gate_refuses_until_forced(lead, client, reg, gated_model):
    lead.ok("promote", model=gated_model, version="2", reason="baseline")
    plan = lead.ok("plan", action="promote", model=gated_model, version="3")
    assert plan["needs_force"] and not plan["allowed"] and "force=True" in plan["apply_with"]
    refused = lead.error("promote", model=gated_model, version="3", reason="worse but faster")
    assert (
        refused.startswith("Error executing tool promote: refused: acc 0.5 is worse") and "force" in refused
    )
    lead.ok("promote", model=gated_model, version="3", reason="accepted trade-off", force=True)
    assert aliases(client, gated_model) == {"production": "3"}
    assert [(a.outcome, a.forced) for a in reg.history(gated_model)][1:] == [
        ("refused", False),
        ("done", True),
    ]


def test_a_stale_plan_token_is_a_conflict_and_is_audited(lead, client, reg, gated_model):
    stale = lead.ok("plan", action="promote", model=gated_model, version="1")["plan_token"]
    reg.promote(gated_model, "2", "meanwhile, from the dashboard", actor=reg.actor())
    text = lead.error("promote", model=gated_model, version="1", reason="as planned", plan_token=stale)
    assert text.startswith("Error executing tool promote: conflict: ") and "plan again" in text
    assert aliases(client, gated_model) == {"production": "2"}
    assert outcomes(reg, gated_model)[-1] == ("promote", "1", LEAD, "lead", "conflict")
    wrong = lead.error("promote", model=gated_model, version="3", reason="x", plan_token=stale)
    assert "bad input: plan_token is for promote" in wrong
    assert "not a token returned by plan" in lead.error(
        "promote", model=gated_model, version="1", reason="x", plan_token="made-up"
    )


def test_a_reason_is_required(lead, client, reg, gated_model):
    blank = lead.error("promote", model=gated_model, version="1", reason="  ")
    assert "bad input: a reason is required" in blank
    assert outcomes(reg, gated_model) == [("promote", "1", LEAD, "lead", "refused")]
    missing = lead.error("promote", model=gated_model, version="1")
    assert "reason" in missing and "Field required" in missing
    assert aliases(client, gated_model) == {}


def test_unknown_model_or_version_is_not_found(lead, gated_model):
    assert "not found: " in lead.error("model_versions", model=unique("nope"))
    assert "has no version 9" in lead.error("plan", action="promote", model=gated_model, version="9")


# the viewer -----------------------------------------------------------------------------------------
def test_a_viewer_may_read_but_every_change_is_refused_and_audited(
    viewer, client, reg, gated_model, experiment
):
    assert viewer.ok("model_versions", model=gated_model)["holders"]["production"] is None
    plan = viewer.ok("plan", action="promote", model=gated_model, version="1")
    assert not plan["allowed"] and plan["actor"] == {"name": VIEWER, "role": "viewer"}

    refused = viewer.error("promote", model=gated_model, version="1", reason="I want it")
    assert refused.startswith("Error executing tool promote: refused: victor is a viewer")
    assert aliases(client, gated_model) == {}
    assert outcomes(reg, gated_model) == [("promote", "1", VIEWER, "viewer", "refused")]

    name = unique("viewer-model")
    assert "refused: victor is a viewer" in viewer.error(
        "register_model", source=experiment.runs["good"], model=name
    )
    assert "refused: victor is a viewer" in viewer.error(
        "track_model", name=name, estimator="LogisticRegression", dataset="iris"
    )
    assert [(a.action, a.outcome, a.actor) for a in reg.history(name)] == [
        ("register", "refused", VIEWER),
        ("register", "refused", VIEWER),
    ]
    assert client.search_registered_models(f"name = '{name}'") == []


def test_viewer_instructions_say_changes_are_refused(viewer):
    assert "victor (viewer)" in viewer.portal.call(viewer.session.initialize).instructions


# streamable HTTP ------------------------------------------------------------------------------------
def _listening_addresses(port: int) -> set[str]:
    """Local addresses of the TCP sockets listening on `port`, from /proc/net/tcp and tcp6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_http_transport_serves_on_loopback_only(settings, tmp_path):
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs /proc/net/tcp to see where the server listens")
    port = free_port()
    argv = [sys.executable, "-m", "registry", "mcp", "--transport", "http", "--port", str(port)]
    token = "loopback-test-token-0123456789abcdef"
    env = child_env(**server_env(settings, LEAD), REGISTRY_MCP_TOKENS=f"{LEAD}={token}")
    server = ServerProcess("mcp http", argv, tmp_path / "mcp-http.log", env, ROOT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.proc.poll() is None, server.log_tail()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, server.log_tail()
                time.sleep(0.2)
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1, and no other address

        async def talk() -> tuple[set[str], CallToolResult]:
            auth = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
            async with Client(
                streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=auth)
            ) as client:
                listed = await client.list_tools()
                return {t.name for t in listed.tools}, await client.call_tool(
                    "model_versions", {"model": "nope"}
                )

        names, missing = anyio.run(talk)
        assert names == TOOLS
        assert missing.is_error and "not found" in McpSession.text(missing)
    finally:
        server.stop()


def test_a_promotion_that_needs_approval_is_a_request_and_self_approval_is_refused(
    lead, reg, client, settings
):
    model = make_model(client, [{"acc": 0.8}], model_tags={"registry.approvals": "1"})

    asked = lead.ok("promote", model=model, version="1", reason="first release")

    assert asked["outcome"] == "requested" and asked["request_id"]
    listed = lead.ok("list_requests", model=model)["requests"]
    assert [(r["id"], r["requester"], r["needed"]) for r in listed] == [(asked["request_id"], LEAD, 1)]
    said = lead.error("approve_request", request_id=asked["request_id"], reason="looks good")
    assert "refused: ada made request" in said and "two-person rule" in said
    assert aliases(client, model) == {}

    bob = Registry.connect(settings.model_copy(update={"leads_csv": f"{LEAD},bob"}))
    done = bob.approve(asked["request_id"], "checked it", actor=bob.actor("bob"))
    assert done.outcome == "done" and aliases(client, model) == {"production": "1"}
    assert lead.ok("list_requests", model=model)["requests"] == []


def test_verify_audit_says_whether_the_log_is_as_written(lead, reg, gated_model):
    lead.ok("promote", model=gated_model, version="1", reason="baseline for the check")
    found = lead.ok("verify_audit")
    assert found["intact"] and found["broken"] is None and found["problems"] == []
    assert found["rows"] == found["chained"] == reg.audit.verify().rows >= 2
