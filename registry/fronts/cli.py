"""`python -m registry`: the registry from a terminal, through the same guards as the dashboard.

Human tables by default, `--json` for machines. Exit codes: 0 done, 2 bad input (a missing reason
included), 3 refused by a guard, 4 conflict (also: `audit verify` found the audit log changed since it
was written), 5 store unreachable; never a traceback for any of these.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from registry.audit.replay import origin_of
from registry.domain.labels import holder_label
from registry.domain.labels import version_label as _v
from registry.domain.lookalike import reveal_in_frame
from registry.errors import BadInput, Conflict, RegistryError
from registry.fronts.listen import LOOPBACK, check_listen
from registry.fronts.serialise import dumps
from registry.redaction import redact
from registry.service import Registry

EXIT_OK = 0
EXIT_PIPE_CLOSED = 141  # 128 + SIGPIPE, what a shell reports for a reader that went away
# A log that disagrees with its own hash chain was changed after it was written: the conflict code,
# as when the registry changed under a plan (what is there now is not what was recorded).
EXIT_AUDIT_ALTERED = Conflict.exit_code


@dataclass(frozen=True)
class Failed:
    """A command's output when a check it ran failed: printed as usual, then `message` on stderr and
    the exit code (no exception: `--json` still prints the whole report)."""

    out: Any
    message: str
    exit_code: int


def _table(rows: list[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return "(none)"
    frame = pd.DataFrame(rows)
    if columns:
        frame = frame[[c for c in columns if c in frame.columns]]
    text: str = reveal_in_frame(frame).to_string(index=False, max_colwidth=60)  # look-alike names told apart
    return text


def _ms(ms: int | None) -> str:
    """Epoch milliseconds as UTC, like every other time the CLI prints."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M") if ms else ""


# commands ------------------------------------------------------------------------------------------
def cmd_seed_demo(reg: Registry, args: argparse.Namespace) -> Any:
    if args.if_empty and reg.has_experiments():
        return None if not args.json else {"skipped": "the store already has experiments"}

    def progress(fraction: float, message: str) -> None:
        if not args.json:
            say(f"[{fraction:4.0%}] {message}")

    summary = reg.seed_demo(progress=progress)
    return summary if args.json else summary.message


def cmd_experiments(reg: Registry, args: argparse.Namespace) -> Any:
    found = reg.experiments(args.search or "", view=args.view)
    if args.json:
        return found
    return _table([{"id": e.experiment_id, "name": e.name, "stage": e.lifecycle_stage} for e in found])


def cmd_runs(reg: Registry, args: argparse.Namespace) -> Any:
    exp = reg.experiment(args.experiment)
    order_by = [args.order_by] if args.order_by else None
    page = reg.search_runs(
        [exp.experiment_id], args.filter or "", order_by, args.max_results, args.page_token
    )
    if args.json:
        return {"runs": page.runs, "next_page_token": page.next_page_token}
    fixed = ["run_id", "run_name", "status", "start_time", "duration_s"]
    metrics = [c for c in page.runs.columns if c.startswith("metrics.")][:6]
    text = page.runs[[c for c in fixed + metrics if c in page.runs.columns]].to_string(index=False)
    if page.next_page_token:
        text += f"\n(more: --page-token {page.next_page_token})"
    return text


def cmd_models(reg: Registry, args: argparse.Namespace) -> Any:
    """Models with their mode and holders: aliases or stages alike (a stage-mode Production holder too)."""
    page = reg.model_rows(args.search or "", max_results=args.max_results)
    rows = [{**r.holders(), "problem": r.problem} for r in page.rows]
    if args.json:
        return {"models": rows, "next_page_token": page.next_page_token}
    shown = [
        {
            **row,
            "production": holder_label(row["production"], str(row["serving_slot"]), "none"),
            "staging": _v(row["staging"]),
        }
        for row in rows
    ]
    return _table(shown, ["name", "mode", "production", "staging", "problem"])


def cmd_adopt(reg: Registry, args: argparse.Namespace) -> Any:
    adopted = reg.adopt(args.model)
    if args.json:
        return adopted
    rows = [
        {
            "model": a.model,
            "mode": a.mode,
            "production": _v(a.production),
            "staging": _v(a.staging),
            "recorded": f"{a.recorded} event(s)" if a.recorded else "already known",
        }
        for a in adopted
    ]
    return _table(rows)


def cmd_versions(reg: Registry, args: argparse.Namespace) -> Any:
    if args.json:
        return reg.versions_summary(args.model)
    state = reg.state(args.model)
    rows = [
        {
            "version": v.version,
            "aliases": ", ".join(v.aliases),
            "stage": v.stage,
            "status": v.status,
            "archived": "yes" if v.archived else "",
            "created": _ms(v.created_ms),
            "run_id": v.run_id or "",
            "promoted_by": v.tags.get("registry.promoted_by", ""),
        }
        for v in state.versions.values()
    ]
    held = " ".join(f"{slot}={_v(holder)}" for slot, holder in state.holders.by_slot.items())
    return f"{args.model} ({state.policy.mode} mode): {held}\n" + _table(rows)


def _render_plan(plan: Any) -> str:
    lines = [
        f"{plan.action} {plan.model} v{plan.version or '?'} → {plan.target}"
        f" ({plan.mode} mode, as {plan.actor})"
    ]
    lines += ["changes:"] + [f"  - {c}" for c in plan.changes or ["(nothing)"]]
    lines.append("checks:")
    for c in plan.checks:
        mark = "PASS" if c.passed else ("FAIL (force may override)" if c.overridable else "FAIL")
        lines.append(f"  [{mark}] {c.name}: {c.detail}")
    if plan.comparison:
        lines.append(f"candidate vs {plan.snapshot.primary_slot}:")
        for m in plan.comparison[:10]:
            lines.append(f"  {m.metric}: {m.candidate} vs {m.current}")
    for d in plan.drift:
        lines.append(f"warning: {d}")
    verdict = "allowed" if plan.allowed else ("needs --force" if plan.needs_force else "would be refused")
    lines.append(f"verdict: {verdict}")
    return "\n".join(lines)


def cmd_plan(reg: Registry, args: argparse.Namespace) -> Any:
    actor = reg.actor()
    plan = reg.plan(args.action, args.model, args.version, actor=actor, target=args.to)
    return plan if args.json else _render_plan(plan)


def _result(args: argparse.Namespace, result: Any) -> Any:
    return result if args.json else result.message


def cmd_promote(reg: Registry, args: argparse.Namespace) -> Any:
    actor = reg.actor()
    return _result(
        args,
        reg.promote(args.model, args.version, args.reason, actor=actor, target=args.to, force=args.force),
    )


def cmd_archive(reg: Registry, args: argparse.Namespace) -> Any:
    if (args.version is None) == (args.from_slot is None):
        raise BadInput("archive: name a VERSION, or --from SLOT to archive whichever version holds it")
    done = reg.archive(args.model, args.version, args.reason, actor=reg.actor(), from_slot=args.from_slot)
    return _result(args, done)


def cmd_rollback(reg: Registry, args: argparse.Namespace) -> Any:
    done = reg.rollback(args.model, args.reason, actor=reg.actor(), to_version=args.to, slot=args.slot)
    return _result(args, done)


def cmd_history(reg: Registry, args: argparse.Namespace) -> Any:
    attempts = reg.history(args.model)
    if args.json:
        return attempts
    rows = [
        {
            "at (UTC)": a.at.strftime("%Y-%m-%d %H:%M:%S"),
            "actor": a.actor,
            "origin": origin_of(a),
            "model": a.model,
            "action": a.action + (" (forced)" if a.forced else ""),
            "target": a.target,
            "from": _v(a.from_version),
            "to": _v(a.to_version),
            "outcome": a.outcome,
            "reason": a.reason,
        }
        for a in attempts
    ]
    text = _table(rows)
    if args.model:
        for d in reg.model_history(args.model).drift:
            text += f"\nwarning: {d}"
    return text


def _request_rows(found: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "model": r.model,
            "change": r.summary(),
            "requester": r.requester,
            "approvals": f"{len(r.approvals)}/{r.needed}"
            + (f" ({', '.join(r.approvers)})" if r.approvers else ""),
            "status": r.status,
            "expires (UTC)": r.expires_at.strftime("%Y-%m-%d %H:%M"),
            "reason": r.reason,
        }
        for r in found
    ]


def cmd_requests(reg: Registry, args: argparse.Namespace) -> Any:
    found = reg.requests(args.model, open_only=not args.all)
    return found if args.json else _table(_request_rows(found))


def _decided(args: argparse.Namespace, result: Any) -> Any:
    if args.json:
        return result
    if hasattr(result, "message"):  # the last approval applied the change
        return result.message
    return f"request {result.id}: {result.status}, {len(result.approvals)}/{result.needed} approvals"


def cmd_approve(reg: Registry, args: argparse.Namespace) -> Any:
    return _decided(args, reg.approve(args.id, args.reason, actor=reg.actor()))


def cmd_reject(reg: Registry, args: argparse.Namespace) -> Any:
    return _decided(args, reg.reject(args.id, args.reason, actor=reg.actor()))


def cmd_withdraw(reg: Registry, args: argparse.Namespace) -> Any:
    return _decided(args, reg.withdraw(args.id, actor=reg.actor(), reason=args.reason or ""))


def cmd_notify(reg: Registry, args: argparse.Namespace) -> Any:
    """`notify status`: the outbox's counts; `notify run`: the delivery worker (`--once`: one pass)."""
    if args.what == "status":
        status = reg.notification_status()
        if args.json:
            return status
        o = status.outbox
        lines = [
            "webhooks: " + (", ".join(status.targets) or "none configured (REGISTRY_NOTIFY_URLS)"),
            f"signed: {'yes' if status.signed else 'no (set REGISTRY_NOTIFY_SECRET)'}",
            f"pending: {o.pending} (retrying {o.retrying}), delivered: {o.delivered}, failed: {o.failed}",
        ]
        if o.last_error:
            lines.append(f"last error: {o.last_error}")
        return "\n".join(lines)
    if args.once:
        report = reg.deliver_notifications(once=True)
        if report is None or args.json:
            return report
        return f"delivered {report.delivered}, retrying {report.retrying}, failed {report.failed}"

    def progress(report: Any) -> None:
        if report.tried:
            print(
                f"delivered {report.delivered}, retrying {report.retrying}, failed {report.failed}",
                flush=True,
            )

    reg.deliver_notifications(once=False, interval_s=args.interval, on_pass=progress)
    return None


def cmd_webhooks(reg: Registry, args: argparse.Namespace) -> Any:
    from registry.fronts import webhooks

    if args.what == "install":
        if not args.url:
            raise BadInput("webhooks install needs --url: where the tracking server reaches the receiver")
        installed = webhooks.install(reg, args.url)
        # Deliveries tell what changed from now on: the state before is each model's baseline.
        installed["adopted"] = len(reg.adopt())
        if args.json:
            return installed
        return (
            f"webhook {installed['webhook_id']} delivers {', '.join(installed['events'])} "
            f"to {installed['url']}; its secret is in {installed['secret_file']} (run `webhooks serve` "
            f"where that file is, or set {webhooks.SECRET_ENV}); {installed['adopted']} model(s) adopted"
        )
    say(f"receiving MLflow webhooks on http://{args.host}:{args.port}{webhooks.PATH}")
    webhooks.serve(reg, args.host, args.port)
    return None


def cmd_audit(reg: Registry, args: argparse.Namespace) -> Any:
    """`audit verify`: walk the hash chain; exit 0 when intact, 4 when a row was changed by hand.
    `audit acknowledge --reason`: an admin records that what verify reports was looked into."""
    if args.what == "acknowledge":
        found = reg.acknowledge_audit(args.reason or "", actor=reg.actor())
    else:
        found = reg.verify_audit(args.anchor)
    lines = [f"audit log {'intact' if found.intact else 'ALTERED'}: {found.summary()}"]
    lines += [f"error: {p}" for p in found.problems] + [f"warning: {w}" for w in found.warnings]
    lines += [f"acknowledged: {a}" for a in found.acknowledged]
    out = found if args.json else "\n".join(lines)
    if found.intact:
        return out
    return Failed(out, f"conflict: {found.problems[0]}", EXIT_AUDIT_ALTERED)


def _check_webhooks_port(args: argparse.Namespace) -> None:
    if args.what == "serve":
        check_listen("webhook receiver", args.host, args.port)


def _check_mcp_port(args: argparse.Namespace) -> None:
    if args.transport == "http":
        check_listen("MCP over HTTP", LOOPBACK, args.port)


def cmd_mcp(reg: Registry, args: argparse.Namespace) -> Any:
    from registry.fronts.mcp_server import serve

    serve(reg, transport=args.transport, port=args.port)
    return None


# parser --------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable output")
    parser = argparse.ArgumentParser(prog="python -m registry", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def add(
        name: str, func: Callable[[Registry, argparse.Namespace], Any], help_: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_)
        p.set_defaults(func=func)
        return p

    p = add("seed-demo", cmd_seed_demo, "fill an empty store with demo training runs and models")
    p.add_argument("--if-empty", action="store_true", help="do nothing when the store has any experiment")
    p = add("experiments", cmd_experiments, "list experiments")
    p.add_argument("--search", help="name contains")
    p.add_argument("--view", choices=["active", "deleted", "all"], default="active")
    p = add("runs", cmd_runs, "search runs of an experiment (name or id)")
    p.add_argument("experiment")
    p.add_argument("--filter", help="MLflow filter, e.g. \"metrics.accuracy > 0.9 and params.lr = '0.1'\"")
    p.add_argument("--order-by", help="e.g. 'metrics.accuracy DESC'")
    p.add_argument("--max-results", type=int, default=50)
    p.add_argument("--page-token")
    p = add("models", cmd_models, "list registered models")
    p.add_argument("--search", help="name contains")
    p.add_argument("--max-results", type=int, default=100)
    p = add("adopt", cmd_adopt, "record what MLflow shows now as the starting point of every model's history")
    p.add_argument("model", nargs="?", help="one model (default: every model)")
    p = add("versions", cmd_versions, "versions of a model with aliases, stages and holders")
    p.add_argument("model")
    p = add("plan", cmd_plan, "show what an action would do and every check, without doing it")
    p.add_argument("action", choices=["promote", "archive", "rollback"])
    p.add_argument("model")
    p.add_argument("version", nargs="?")
    p.add_argument(
        "--to", metavar="SLOT", help="promote, rollback: the slot (default: production, or the model's first)"
    )
    p = add("promote", cmd_promote, "move a slot (production, staging, or an alias the model manages)")
    p.add_argument("model")
    p.add_argument("version")
    p.add_argument("--reason", required=True)
    p.add_argument(
        "--to",
        metavar="ALIAS",
        help="a slot the model manages: production (default), staging, or its registry.slots",
    )
    p.add_argument(
        "--force", action="store_true", help="pass a failing metric gate (leads only, with a reason)"
    )
    p = add("archive", cmd_archive, "archive a version (nothing is deleted), or --from SLOT its holder")
    p.add_argument("model")
    p.add_argument("version", nargs="?")
    p.add_argument("--reason", required=True)
    p.add_argument("--from", dest="from_slot", metavar="SLOT", help="archive the version holding this slot")
    p = add("rollback", cmd_rollback, "give a slot back to its previous holder, or to --to VERSION")
    p.add_argument("model")
    p.add_argument("--reason", required=True)
    p.add_argument("--to", help="an earlier version")
    p.add_argument("--slot", help="the slot to roll back (default: production, or the model's first)")
    p = add("history", cmd_history, "the audit history, of one model or all")
    p.add_argument("model", nargs="?")
    p = add("requests", cmd_requests, "approval requests waiting for a decision (--all: closed ones too)")
    p.add_argument("model", nargs="?")
    p.add_argument("--all", action="store_true")
    p = add("approve", cmd_approve, "approve a request; the last approval needed applies the change")
    p.add_argument("id")
    p.add_argument("--reason", required=True)
    p = add("reject", cmd_reject, "reject a request, with a reason")
    p.add_argument("id")
    p.add_argument("--reason", required=True)
    p = add("withdraw", cmd_withdraw, "withdraw your own request")
    p.add_argument("id")
    p.add_argument("--reason")
    p = add("notify", cmd_notify, "webhook notifications: `status`, or `run` the delivery worker")
    p.add_argument("what", choices=["status", "run"])
    p.add_argument("--interval", type=float, default=5.0, help="seconds between passes (run)")
    p.add_argument("--once", action="store_true", help="one delivery pass, then exit (run)")
    p = add("webhooks", cmd_webhooks, "record changes made in MLflow directly, as its webhooks report them")
    p.add_argument("what", choices=["serve", "install"], help="serve the receiver, or register it on MLflow")
    p.add_argument("--url", help="install: the receiver's URL as the tracking server reaches it")
    p.add_argument("--host", default="127.0.0.1", help="serve: address to bind (default loopback only)")
    p.add_argument("--port", type=int, default=8799)
    p.set_defaults(before_connect=_check_webhooks_port)
    p = add(
        "audit",
        cmd_audit,
        "`audit verify`: check the audit log's hash chain; exit 0 intact, 4 when a row was rewritten, "
        "deleted or inserted by hand (the first such row is named)",
    )
    p.add_argument(
        "what",
        choices=["verify", "acknowledge"],
        help="acknowledge (admins, with --reason): the current break, doubled rows and trigger notices "
        "were looked into; later verifies list it and alarm only about anything new",
    )
    p.add_argument("--reason", help="acknowledge: what was found and done")
    p.add_argument(
        "--anchor",
        help="a head hash printed by an earlier verify and kept elsewhere: the chain must still hold it "
        "(someone who can write the database could otherwise recompute every hash)",
    )
    p = add("mcp", cmd_mcp, "serve the registry to an assistant over MCP")
    p.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    p.add_argument("--port", type=int, default=8765)
    p.set_defaults(before_connect=_check_mcp_port)
    return parser


def one_line(text: str) -> str:
    """A message as one line: a store's multi-line error must not spill over the terminal."""
    return " ".join(str(text).split())


def say(message: str) -> None:
    """A message for the person at the terminal: on stderr, one line, after what stdout already holds."""
    sys.stdout.flush()
    sys.stderr.write(one_line(message) + "\n")
    sys.stderr.flush()


def _error_message(exc: RegistryError) -> str:
    """`kind: message`, never `refused: refused: ...` when the message already names its kind."""
    text = one_line(str(exc))
    return text if text.lower().startswith(f"{exc.kind}:") else f"{exc.kind}: {text}"


def _emit(text: str) -> int:
    """Print the output; a reader that closed the pipe (`| head`) ends it quietly."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's last flush must not fail again
        return EXIT_PIPE_CLOSED
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if before_connect := getattr(args, "before_connect", None):
            before_connect(args)  # a bad --port is said at once, not after the stores answered
        reg = Registry.connect()
        out = args.func(reg, args)
    except RegistryError as exc:
        if getattr(args, "json", False):
            _emit(json.dumps({"error": exc.kind, "message": one_line(str(exc))}))
        say(_error_message(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug must still read as one line, not a traceback
        say(redact(f"unexpected error: {exc.__class__.__name__}: {exc} (set REGISTRY_DEBUG=1 for details)"))
        if os.environ.get("REGISTRY_DEBUG"):
            raise
        return 1
    if out is None:
        return EXIT_OK
    if isinstance(out, Failed):
        emitted = _emit(dumps(out.out) if args.json else str(out.out))
        say(out.message)
        return emitted if emitted != EXIT_OK else out.exit_code
    return _emit(dumps(out) if args.json else str(out))
