"""`python -m registry mcp`: the registry as MCP tools, for a chat assistant.

Every tool is a thin call into the registry service, so an assistant goes through the same guards,
audit log and error messages as the dashboard and the CLI. Changes are made as the configured actor
(REGISTRY_ACTOR, with the role REGISTRY_LEADS, REGISTRY_ADMINS and the model's own leads give it):
a viewer's change is refused by the service and the refusal is audited. Results are JSON objects; a
service error comes back as an MCP tool error whose text is `<kind>: <message>` (bad input, not
found, refused, conflict, unreachable), never as a success with a flag in it.

Served over stdio (what desktop assistants launch) or streamable HTTP bound to 127.0.0.1 only.
"""

from __future__ import annotations

import functools
import inspect
import logging
import sys
from collections.abc import Callable
from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from registry.domain.actors import Actor
from registry.errors import BadInput, RegistryError
from registry.fronts.listen import LOOPBACK, check_listen
from registry.fronts.mcp_auth import StaticTokens, caller_name, http_tokens
from registry.fronts.serialise import to_json_object
from registry.redaction import redact
from registry.service import Registry

logger = logging.getLogger(__name__)

HTTP_HOST = LOOPBACK
Result = dict[str, Any]
ParamValue = str | int | float | bool | None

READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
ADD = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)
CHANGE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
)

# Argument types, described once for every tool that takes them.
Experiment = Annotated[str, Field(description="experiment name or id")]
ModelName = Annotated[str, Field(description="registered model name")]
Version = Annotated[str, Field(description="version number, e.g. '3'")]
Slot = Annotated[
    str | None,
    Field(
        description="the slot (alias) to move: production, staging, or an alias the model manages "
        "(model_versions lists them as `slots`); default: the model's first slot, production unless it "
        "manages others"
    ),
]
Reason = Annotated[
    str, Field(description="why, in the user's words; required, it goes into the audit history")
]
PlanToken = Annotated[
    str | None,
    Field(
        description="plan_token from the plan the user approved: the change is refused (conflict) if the "
        "model changed since that plan was made"
    ),
]
Filter = Annotated[
    str,
    Field(
        description="MLflow search filter, e.g. \"metrics.val_accuracy > 0.9 and params.C = '0.5'\"; "
        "string values in single quotes, names with spaces in backticks"
    ),
]

INSTRUCTIONS = """\
The MLflow model registry of this team, behind the same guards as its dashboard.

Reading: list_experiments, search_runs, get_best_model, compare_runs, list_models, model_versions,
model_history. Adding: track_model (trains an allow-listed scikit-learn model on a bundled dataset
and logs it), register_model (a new version from a run). Changing what serves: promote, archive,
rollback. Approval requests (a slot that needs other leads' approval): list_requests,
approve_request, reject_request, withdraw_request.

Before a change, call plan and show the user its changes and checks; apply it only when the user
agrees, with the user's reason and the plan's plan_token. Never invent a reason. A failing metric
gate can be passed with force only when the user explicitly asks for it. Changes are made as {actor}:
{may}. Refusals and conflicts are tool errors; report them to the user as they are.
"""


# reads -------------------------------------------------------------------------------------------
def list_experiments(reg: Registry, search: str = "") -> Result:
    """List active experiments (id, name) whose name contains `search` (case-insensitive)."""
    found = reg.experiments(search)
    return {"experiments": [{"experiment_id": e.experiment_id, "name": e.name} for e in found]}


def search_runs(
    reg: Registry,
    experiment: Experiment,
    filter: Filter = "",
    order_by: Annotated[list[str] | None, Field(description="e.g. ['metrics.val_accuracy DESC']")] = None,
    max_results: Annotated[int, Field(ge=1, le=200)] = 20,
    page_token: Annotated[str | None, Field(description="next_page_token of the previous page")] = None,
) -> Result:
    """Search the active runs of one experiment with MLflow's filter syntax: one page of runs with
    their params.*, metrics.* and tags.* columns, and next_page_token for the next page.
    A malformed filter or an unknown column is an error that says what to write instead."""
    exp = reg.experiment(experiment)
    page = reg.search_runs([exp.experiment_id], filter, order_by, max_results, page_token)
    return {
        "experiment": {"experiment_id": exp.experiment_id, "name": exp.name},
        "runs": page.runs,
        "next_page_token": page.next_page_token,
    }


def get_best_model(
    reg: Registry,
    experiment: Experiment,
    metric: Annotated[str, Field(description="metric name, e.g. 'val_accuracy'")],
    direction: Annotated[
        Literal["max", "min"] | None,
        Field(description="max or min; default: min for names with loss/error/rmse/mae/mse, else max"),
    ] = None,
    filter: Filter = "",
    finished_only: bool = True,
) -> Result:
    """The run of an experiment with the best value of a metric (FINISHED runs only by default),
    its params and metrics, the models it logged and every registered version made from it."""
    best = reg.best_run(experiment, metric, direction, filter, finished_only)
    detail = best.run
    return {
        "experiment": {"experiment_id": best.experiment.experiment_id, "name": best.experiment.name},
        "metric": best.metric,
        "direction": best.direction,
        "value": best.value,
        "run": {
            "run_id": detail.info.run_id,
            "run_name": detail.info.run_name,
            "status": detail.info.status,
            "start_time": detail.info.start_time,
            "params": detail.params,
            "metrics": detail.metrics,
            "tags": detail.tags,
        },
        "logged_models": detail.logged_models,
        "registered_versions": detail.model_versions,
    }


def compare_runs(
    reg: Registry,
    run_ids: Annotated[list[str], Field(description="2 to 50 run ids, from any experiments")],
    only_differences: Annotated[
        bool, Field(description="leave out the params, metrics and tags that all runs share")
    ] = True,
) -> Result:
    """Params, metrics and tags of runs side by side: one entry per field with each run's value and
    whether they differ, plus which run is best per metric (lower is better for names with
    loss/error/rmse/mae/mse, higher for the rest). Ids that name no run are listed in `missing`."""
    compared = reg.compare_runs(run_ids)
    table = compared.table
    shown = compared.differences if only_differences else table
    ids = [str(i) for i in compared.runs["run_id"]]
    return {
        "runs": compared.runs[["run_id", "run_name", "experiment_id", "status"]],
        "missing": compared.missing,
        "fields": [
            {"field": str(field), "values": {i: row[i] for i in ids}, "differs": bool(row["differs"])}
            for field, row in shown.iterrows()
        ],
        "identical_fields_left_out": len(table) - len(shown),
        "best": compared.best,
    }


def list_models(
    reg: Registry, search: str = "", max_results: Annotated[int, Field(ge=1, le=500)] = 100
) -> Result:
    """Registered models whose name contains `search`, with their lifecycle mode (aliases or stages)
    and who holds production and staging (an alias, or the stage in stage mode). A model that names
    its own slots (registry.slots, e.g. champion) has its first slot's holder as `production` and
    that slot's name as `serving_slot`."""
    page = reg.model_rows(search, max_results=max_results)
    return {"models": [r.holders() for r in page.rows]}


def model_versions(reg: Registry, model: ModelName) -> Result:
    """Every version of a model with its aliases, stage, status, archived flag and source run, the
    model's lifecycle mode (aliases or stages), the slots it manages (`slots`: production and
    staging, or its own aliases such as champion and challenger) and who holds each now."""
    return reg.versions_summary(model)


def model_history(reg: Registry, model: ModelName) -> Result:
    """The model's audit history (every attempted promote/archive/rollback, refused ones included,
    with actor, role, reason and outcome; `observed` is the state first seen in MLflow and `outside`
    a change made in MLflow directly, both with actor `mlflow`), the state it replays to, the version
    a rollback would return to, and any drift: holders set in MLflow outside the registry's guards."""
    return to_json_object(reg.model_history(model))


def verify_audit(
    reg: Registry,
    anchor: Annotated[
        str | None, Field(description="a head_hash from an earlier verify, kept elsewhere (optional)")
    ] = None,
) -> Result:
    """Whether the audit log is as it was written: `intact`, rows checked, from when the hash chain
    vouches (`chained_since`; older rows are `unchained`), the first broken row (id, model, at, what is
    wrong) if a row was rewritten, deleted or inserted by hand, attempts with a doubled row, and
    warnings when the append-only triggers are missing or were found missing. Tell the user plainly
    when it is not intact."""
    return reg.verify_audit(anchor).as_dict()


def plan(
    reg: Registry,
    action: Literal["promote", "archive", "rollback"],
    model: ModelName,
    version: Annotated[
        str | None, Field(description="the version to act on; for rollback, optional (default: previous)")
    ] = None,
    target: Annotated[
        str | None,
        Field(
            description="promote and rollback: the slot (alias) to move, default the model's first slot; "
            "archive: a slot whose holder to archive when no version is given"
        ),
    ] = None,
) -> Result:
    """Say what an action would change and run every check, without changing anything: changes,
    checks (pass/fail, which the user should see), candidate metrics against production,
    `allowed`, `needs_force` (only the metric gate failed) and a plan_token. Show this to the user
    and apply with promote/archive/rollback, passing their reason and the plan_token."""
    made = reg.plan(action, model, version, actor=_actor(reg), target=target)
    args = f"model={model!r}, reason=<the user's reason>, plan_token=<plan_token>"
    if action == "promote":
        args += f", version={made.version!r}, target={made.target!r}" + (
            ", force=True" if made.needs_force else ""
        )
    elif action == "archive":
        args += f", version={made.version!r}"
    else:
        args += f", slot={made.target!r}" + (f", to_version={made.version!r}" if made.version else "")
    return {**made.as_dict(), "plan_token": reg.plan_token(made), "apply_with": f"{action}({args})"}


# additions ---------------------------------------------------------------------------------------
def track_model(
    reg: Registry,
    name: Annotated[str, Field(description="registered model name (also the default experiment)")],
    estimator: Annotated[
        str,
        Field(description="scikit-learn class name from the allow-list, e.g. 'RandomForestClassifier'"),
    ],
    dataset: Literal["iris", "wine", "breast_cancer", "diabetes"],
    params: Annotated[
        dict[str, ParamValue] | None,
        Field(description="estimator params as JSON scalars, e.g. {'n_estimators': 50, 'max_depth': 3}"),
    ] = None,
    experiment: Annotated[str | None, Field(description="experiment name; default: the model name")] = None,
    run_name: str | None = None,
    register: Annotated[bool, Field(description="also register the model as a new version")] = True,
    tags: Annotated[
        dict[str, str] | None,
        Field(description="tags for the run and the version; names starting registry. are reserved"),
    ] = None,
    test_size: Annotated[float, Field(ge=0.1, le=0.5)] = 0.3,
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0,
) -> Result:
    """Train a small scikit-learn model in this server and log it as a FINISHED run (params,
    validation metrics, the model) and, by default, register it as a new version (it does not
    serve until promoted). Nothing sent is unpickled or evaluated: the estimator must be on the
    allow-list, params must be its own parameters with JSON scalar values, iteration counts are
    capped. Classification (iris, wine, breast_cancer) logs val_accuracy and val_f1_macro;
    regression (diabetes) logs val_rmse, val_mae and val_r2. Leads only.
    Allowed: LogisticRegression, DecisionTreeClassifier, RandomForestClassifier,
    ExtraTreesClassifier, GradientBoostingClassifier, KNeighborsClassifier, SVC; LinearRegression,
    Ridge, Lasso, ElasticNet, DecisionTreeRegressor, RandomForestRegressor, ExtraTreesRegressor,
    GradientBoostingRegressor, KNeighborsRegressor, SVR."""
    return to_json_object(
        reg.track_from_spec(
            name,
            estimator,
            dataset,
            params,
            actor=_actor(reg),
            experiment=experiment,
            run_name=run_name,
            register=register,
            tags=tags,
            test_size=test_size,
            seed=seed,
        )
    )


def register_model(
    reg: Registry,
    source: Annotated[
        str, Field(description="a run id (the run must have logged one model) or models:/m-<id>")
    ],
    model: ModelName,
    description: str = "",
) -> Result:
    """Register a new version of `model` (created if it does not exist) from a run's logged model.
    The new version serves nowhere until promoted. Leads only; a viewer is refused and audited."""
    return to_json_object(reg.register_version(source, model, actor=_actor(reg), description=description))


# changes -----------------------------------------------------------------------------------------
def promote(
    reg: Registry,
    model: ModelName,
    version: Version,
    reason: Reason,
    target: Slot = None,
    force: Annotated[
        bool,
        Field(
            description="pass a failing check that a lead may override (the metric gate, a source run "
            "that was deleted or never existed), never any other; only when the user asks"
        ),
    ] = False,
    plan_token: PlanToken = None,
) -> Result:
    """Promote a version to a slot: production by default, staging, or any alias the model manages
    (its registry.slots, e.g. champion, challenger; another alias is bad input naming them). In
    alias mode the alias moves to it, in stage
    mode it changes stage and the previous production version is archived. Guards: the actor must
    be a lead, a reason is required, the version must be READY, not archived, from a FINISHED run,
    carry the required tags and pass the metric gate against production (force passes the gate and
    a missing or deleted source run, nothing else). With plan_token, refused (conflict) if the model
    changed since that plan. Every attempt is audited. Call plan first."""
    done = reg.apply_approved(
        "promote", model, version, reason, plan_token, actor=_actor(reg), target=target, force=force
    )
    return to_json_object(done)


def archive(
    reg: Registry,
    model: ModelName,
    reason: Reason,
    version: Annotated[str | None, Field(description="the version; or give from_slot instead")] = None,
    from_slot: Annotated[
        str | None, Field(description="archive whichever version holds this slot (alias)")
    ] = None,
    plan_token: PlanToken = None,
) -> Result:
    """Archive a version, or the holder of `from_slot`: its aliases are removed and it is tagged
    archived (alias mode) or moved to stage Archived; nothing is deleted. Leads only, reason
    required, audited. Call plan first."""
    if (version is None) == (from_slot is None):
        raise BadInput("archive: give a version, or from_slot to archive whichever version holds it")
    return to_json_object(
        reg.apply_approved("archive", model, version, reason, plan_token, actor=_actor(reg), target=from_slot)
    )


def rollback(
    reg: Registry,
    model: ModelName,
    reason: Reason,
    to_version: Annotated[
        str | None, Field(description="an earlier version; default: the slot's previous holder")
    ] = None,
    plan_token: PlanToken = None,
    slot: Slot = None,
) -> Result:
    """Give a slot (production by default, or any alias the model manages) back to the version that
    held it before the current one (by the history of that slot: the dashboard's changes, the state
    first seen and changes made in MLflow directly), or to `to_version`. Same guards as promote,
    leads only, reason required, audited. Call plan with action 'rollback' first."""
    done = reg.apply_approved(
        "rollback", model, to_version, reason, plan_token, actor=_actor(reg), target=slot
    )
    return to_json_object(done)


RequestId = Annotated[str, Field(description="the approval request's id (from list_requests or promote)")]


def list_requests(
    reg: Registry,
    model: Annotated[str | None, Field(description="one model; default: every model")] = None,
    include_closed: bool = False,
) -> Result:
    """Approval requests waiting for a decision (two-person rule): id, the change as requested,
    requester, approvals so far and needed, expiry. A promote or rollback of a slot that needs
    approvals returns outcome 'requested' with a request_id instead of changing anything."""
    return to_json_object({"requests": reg.requests(model, open_only=not include_closed)})


def approve_request(reg: Registry, request_id: RequestId, reason: Reason) -> Result:
    """Approve a request as the configured actor (never one's own, never twice). The last approval
    needed re-plans and applies the change, or fails with a conflict if the model changed since the
    request was made (nothing applied). Show the user the request first; only on their word."""
    return to_json_object(reg.approve(request_id, reason, actor=reg.actor()))


def reject_request(reg: Registry, request_id: RequestId, reason: Reason) -> Result:
    """Reject a request with the user's reason; it is closed and nothing changes."""
    return to_json_object(reg.reject(request_id, reason, actor=reg.actor()))


def withdraw_request(reg: Registry, request_id: RequestId) -> Result:
    """Withdraw a request the configured actor made; nothing changes."""
    return to_json_object(reg.withdraw(request_id, actor=reg.actor()))


TOOLS: tuple[tuple[Callable[..., Result], ToolAnnotations], ...] = (
    (list_experiments, READ),
    (search_runs, READ),
    (get_best_model, READ),
    (compare_runs, READ),
    (list_models, READ),
    (model_versions, READ),
    (model_history, READ),
    (verify_audit, READ),
    (plan, READ),
    (track_model, ADD),
    (register_model, ADD),
    (promote, CHANGE),
    (archive, CHANGE),
    (rollback, CHANGE),
    (list_requests, READ),
    (approve_request, CHANGE),
    (reject_request, CHANGE),
    (withdraw_request, CHANGE),
)


def _bound(fn: Callable[..., Result], reg: Registry) -> Callable[..., Result]:
    """`fn` with `reg` filled in: the signature MCP reads (the tool's schema) leaves it out.

    A service error becomes a tool error carrying kind and message; a bug becomes one line (the
    traceback goes to stderr). The result passes through the shared serialiser: strict JSON.
    """
    signature = inspect.signature(fn, eval_str=True)
    params = list(signature.parameters.values())[1:]

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Result:
        try:
            return to_json_object(fn(reg, *args, **kwargs))
        except RegistryError as exc:
            message = str(exc)  # some messages already start with their kind ("refused: ...")
            raise ToolError(
                message if message.startswith(f"{exc.kind}:") else f"{exc.kind}: {message}"
            ) from exc
        except Exception as exc:
            logger.exception("tool %s failed unexpectedly", fn.__name__)
            raise ToolError(redact(f"unexpected error: {exc.__class__.__name__}: {exc}")) from exc

    run.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]  # read by inspect.signature
    del run.__wrapped__  # inspect must not look past the signature above
    return run


def _actor(reg: Registry) -> Actor:
    """Who this call acts as: the HTTP request's token names them; over stdio, REGISTRY_ACTOR."""
    return reg.actor(caller_name())


def build_server(reg: Registry, tokens: dict[str, str] | None = None, port: int = 8765) -> MCPServer:
    """The MCP server with every tool bound to `reg`; nothing is served until `serve`.

    With `tokens` (token → actor) every HTTP request must carry one as a bearer token (the SDK's
    middleware answers 401 otherwise) and acts as its actor.
    """
    actor = reg.actor()
    acting = f"{actor.name} ({actor.role})"
    may = {
        "admin": "an admin, so changes are allowed on every model",
        "lead": "a lead, so changes are allowed, except on models whose registry.leads name others",
        "viewer": "a viewer, so changes are refused, except on models whose registry.leads name you",
    }[actor.role]
    auth: dict[str, Any] = {}
    if tokens is not None:
        auth = {
            "token_verifier": StaticTokens(tokens),
            "auth": AuthSettings(
                issuer_url=f"http://{HTTP_HOST}:{port}",  # type: ignore[arg-type]  # pydantic parses the URL text
                resource_server_url=None,
            ),
        }
        if set(tokens.values()) != {actor.name}:
            acting, may = "the actor your bearer token names", "changes are allowed only if that actor leads"
    server = MCPServer(
        "mlflow-registry",
        title="MLflow Registry",
        instructions=INSTRUCTIONS.format(actor=acting, may=may),
        **auth,
    )
    for fn, hints in TOOLS:
        description = inspect.cleandoc(fn.__doc__ or "")
        server.add_tool(_bound(fn, reg), description=description, annotations=hints, structured_output=True)
    return server


def serve(reg: Registry, transport: str = "stdio", port: int = 8765) -> None:
    """Serve until the client disconnects (stdio) or the process is stopped (http).

    Over HTTP every request needs a bearer token (registry/fronts/mcp_auth.py); a token made here
    is printed once, to stderr. A port out of range is bad input; a port taken is Unreachable.
    """
    if transport == "stdio":
        build_server(reg).run("stdio")
        return
    if transport != "http":
        raise BadInput(f"transport {transport!r}: use stdio or http")
    check_listen("MCP over HTTP", HTTP_HOST, port)
    tokens, made = http_tokens(reg.settings.mcp_tokens, reg.settings.actor)
    server = build_server(reg, tokens, port)
    print(f"MCP over streamable HTTP on http://{HTTP_HOST}:{port}/mcp", file=sys.stderr)
    if made:
        print(
            f"bearer token for {reg.settings.actor} (shown once; set REGISTRY_MCP_TOKENS to choose "
            f"tokens): {made}",
            file=sys.stderr,
            flush=True,
        )
    else:
        print(
            f"bearer tokens from REGISTRY_MCP_TOKENS for: {', '.join(sorted(set(tokens.values())))}",
            file=sys.stderr,
        )
    server.run("streamable-http", host=HTTP_HOST, port=port)
