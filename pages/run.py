"""Run: one run in full. Summary, params, metrics and their history, tags, artifacts, models.

URL: `?run=<id>&metrics=loss,acc&x=step&logy=1&artifact=<path>`.
"""

from __future__ import annotations

import logging
from pathlib import PurePosixPath

import pandas as pd
import streamlit as st

from pages.views.columns import open_link
from pages.views.figures import X_AXES, kept_history_figure, svg_points_per_line
from pages.views.first_paint import plotly_chart
from pages.views.run_picker import pick_recent_runs
from pages.views.shared import (
    after_write,
    cached_read,
    current_actor,
    plain,
    query_list,
    query_param,
    registry,
    section,
    set_query,
    show_error,
    table,
    through_app,
)
from registry.domain.lookalike import reveal_invisible
from registry.errors import RegistryError
from registry.service import Registry
from registry.store.artifacts import DEFAULT_DOWNLOAD_MAX_BYTES, Preview
from registry.store.runs import RunDetail, RunSummary

through_app()  # first: a deep link must run inside app.py (see pages/views/shared.py)

_CODE_LANGUAGES = {
    ".py": "python",
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".sh": "bash",
    ".toml": "toml",
}
log = logging.getLogger("registry.ui.run")

# The Register dialog: opened from a session-state flag (the run id), so its own reruns keep it open.
REGISTER = "run.register"
REGISTER_OUTCOME = "run.register_outcome"  # (kind, message) of the last failed confirm
REGISTERED = "run.registered"  # (model, version) of the last registration, shown once
REG_SOURCE = "run.register_source"
REG_MODEL = "run.register_model"
REG_NEW_NAME = "run.register_new_name"
REG_DESCRIPTION = "run.register_description"
_REGISTER_KEYS = (REGISTER, REGISTER_OUTCOME, REG_SOURCE, REG_MODEL, REG_NEW_NAME, REG_DESCRIPTION)
NEW_MODEL = "(a new model)"
MODEL_CHOICES = 500


def _model_names(reg: Registry) -> list[str]:
    return [m.name for m in reg.models("", MODEL_CHOICES).models]


def _when(value: object) -> str:
    return "" if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float | None) -> str:
    return "" if seconds is None else str(pd.Timedelta(seconds=round(seconds, 1))).removeprefix("0 days ")


def summary(detail: RunDetail) -> None:
    info = detail.info
    st.title(f"Run {plain(info.run_name or info.run_id)}")
    rows = [
        ("run id", info.run_id),
        ("status", info.status),
        ("start", _when(info.start_time)),
        ("end", _when(info.end_time)),
        ("duration", _duration(info.duration_s) if info.end_time else f"{info.status.lower()} (no end time)"),
        ("user", info.user),
        ("source", " ".join(s for s in (info.source_type, info.source_name) if s)),
        ("git commit", info.git_commit),
        ("experiment", info.experiment_id),
        ("artifacts", info.artifact_uri),
    ]
    half = (len(rows) + 1) // 2
    for column, part in zip(st.columns(2), (rows[:half], rows[half:]), strict=True):
        column.dataframe(pd.DataFrame(part, columns=["field", "value"]), hide_index=True, width="stretch")
    links = st.columns(3)
    links[0].page_link(
        "pages/runs.py",
        label="Runs of this experiment",
        icon=":material/science:",
        query_params={"experiment": info.experiment_id},
    )
    if detail.parent_run_id:
        links[1].page_link(
            "pages/run.py",
            label=f"Parent run {plain(detail.parent_run_id[:8])}",
            icon=":material/arrow_upward:",
            query_params={"run": detail.parent_run_id},
        )
    if detail.children:
        st.subheader("Child runs")
        table(_runs_frame(detail.children), hide_index=True, width="stretch", column_config=_LINKS)


_LINKS = {"open": open_link("Open")}


def _runs_frame(runs: list[RunSummary]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run_name": [r.run_name for r in runs],
            "status": [r.status for r in runs],
            "start_time": [r.start_time for r in runs],
            "duration_s": [r.duration_s for r in runs],
            "open": [f"run?run={r.run_id}" for r in runs],
        }
    )


def key_values(values: dict[str, object], key_name: str, empty: str) -> None:
    if not values:
        st.caption(empty)
        return
    frame = pd.DataFrame(sorted(values.items()), columns=[key_name, "value"])
    table(frame, hide_index=True, width="stretch")


def history(detail: RunDetail) -> None:
    keys = sorted(detail.metrics)
    if not keys:
        st.caption("This run logged no metrics.")
        return
    st.session_state.setdefault("run_metrics", [k for k in query_list("metrics") if k in keys] or keys[:2])
    st.session_state.setdefault("run_x", query_param("x", "step") if query_param("x") in X_AXES else "step")
    st.session_state.setdefault("run_logy", query_param("logy") == "1")
    chosen = st.multiselect("Metrics", keys, key="run_metrics")
    left, right = st.columns([3, 1])
    x = left.radio("x axis", list(X_AXES), key="run_x", format_func=X_AXES.get, horizontal=True)
    log_y = right.toggle("Log y", key="run_logy")
    set_query(metrics=chosen or None, x=None if x == "step" else x, logy="1" if log_y else None)
    if not chosen:
        st.caption("Choose metrics to chart.")
        return
    with st.spinner("Loading metric history…"):
        stamps = Registry.run_stamps(pd.DataFrame([vars(detail.info)]))
        figure = cached_read(
            kept_history_figure, tuple(stamps), tuple(chosen), x, 0.0, log_y,
            ((detail.info.run_id, detail.info.run_name),), svg_points_per_line(len(chosen)),
        )  # fmt: skip
    plotly_chart(figure, key="run_history_chart")


def _tree_label(path: str, is_dir: bool) -> str:
    depth = path.count("/")
    name = PurePosixPath(path).name
    return "    " * depth + ("📁 " if is_dir else "📄 ") + name


def artifacts(run_id: str) -> None:
    with st.spinner("Listing artifacts…"):
        tree = cached_read(Registry.artifact_tree, run_id)
    entries = sorted(tree.entries, key=lambda e: e.path)  # a folder's files right under it
    files = {e.path: e for e in entries if not e.is_dir}
    if not files:
        st.caption(
            "No artifacts under this run. In MLflow 3 a logged model's files live with the model: "
            "see Logged models below."
        )
        return
    if tree.truncated:
        st.caption(f"Showing the first {len(tree.entries)} entries.")
    listing = pd.DataFrame(
        {
            "path": [_tree_label(e.path, e.is_dir) for e in entries],
            "size (bytes)": [e.size for e in entries],
        }
    )
    left, right = st.columns([2, 3])
    left.dataframe(listing, hide_index=True, width="stretch", height=min(400, 38 + 35 * len(listing)))
    wanted = query_param("artifact")
    st.session_state.setdefault("run_artifact", wanted if wanted in files else next(iter(files)))
    if st.session_state["run_artifact"] not in files:
        st.session_state["run_artifact"] = next(iter(files))
    with right:
        path = st.selectbox("Preview", list(files), key="run_artifact")
        set_query(artifact=path)
        with section("Preview"):
            show_preview(cached_read(Registry.preview_artifact, run_id, path))
        entry = files[path]
        too_big = entry.size is not None and entry.size > DEFAULT_DOWNLOAD_MAX_BYTES
        reg = registry()
        st.download_button(
            "Download",
            data=lambda: reg.download_artifact(run_id, path)[1],
            file_name=PurePosixPath(path).name,
            key="run_artifact_download",
            disabled=too_big,
            help="Too large to download through the dashboard; use `mlflow artifacts download`"
            if too_big
            else None,
        )


def show_preview(preview: Preview) -> None:
    if preview.kind == "json":
        st.json(preview.data, expanded=2)
    elif preview.kind == "yaml":
        st.code(preview.text or "", language="yaml")
    elif preview.kind == "csv" and preview.table is not None:
        table(preview.table, width="stretch")
    elif preview.kind == "image" and preview.image is not None:
        st.image(preview.image)
    elif preview.kind == "text":
        st.code(preview.text or "", language=_CODE_LANGUAGES.get(PurePosixPath(preview.path).suffix))
    else:  # binary, too_large
        st.info(plain(preview.message or f"{preview.kind}: no preview"), icon=":material/info:")
    if preview.message and preview.kind in ("text", "json", "yaml", "csv"):
        st.caption(plain(preview.message))
    if preview.truncated:
        st.caption("Preview cut short; download the file for all of it.")


def models(detail: RunDetail) -> None:
    st.subheader("Logged models")
    if detail.logged_models:
        table(
            pd.DataFrame(
                [
                    (m.name, m.model_id, m.status, m.creation_time, m.artifact_location)
                    for m in detail.logged_models
                ],
                columns=["name", "model_id", "status", "created", "artifact_location"],
            ),
            hide_index=True,
            width="stretch",
        )
        with section("Logged model files"):
            model_files(detail)
    else:
        st.caption("This run logged no models.")
    st.subheader("Registered versions")
    if not detail.model_versions:
        st.caption("No registered model version comes from this run.")
        return
    table(
        pd.DataFrame(
            [(v.name, v.version, v.status, v.creation_time, v.source) for v in detail.model_versions],
            columns=["model", "version", "status", "created", "source"],
        ),
        hide_index=True,
        width="stretch",
    )
    for name in dict.fromkeys(v.name for v in detail.model_versions):
        st.page_link(
            "pages/models.py",
            label=f"Model {plain(name)}",
            icon=":material/inventory_2:",
            query_params={"model": name},
        )


def _open_register(run_id: str) -> None:
    _close_register()
    st.session_state[REGISTER] = run_id


def _close_register() -> None:
    for key in _REGISTER_KEYS:
        st.session_state.pop(key, None)


def _confirm_register() -> None:
    """Register through the service; a refusal or bad name stays in the dialog, success closes it."""
    choice = st.session_state.get(REG_MODEL)
    name = st.session_state.get(REG_NEW_NAME, "") if choice == NEW_MODEL else choice
    try:
        done = registry().register_version(
            str(st.session_state.get(REG_SOURCE) or ""),
            str(name or ""),
            actor=current_actor(),
            description=str(st.session_state.get(REG_DESCRIPTION) or "").strip(),
        )
    except RegistryError as exc:
        after_write()  # a refusal is now in the history
        st.session_state[REGISTER_OUTCOME] = (exc.kind, str(exc))
        return
    except Exception as exc:  # a callback's exception would be a traceback on the page
        log.exception("register failed")
        st.session_state[REGISTER_OUTCOME] = ("error", f"unexpected error ({exc.__class__.__name__})")
        return
    after_write()
    _close_register()
    st.session_state[REGISTERED] = (done.model, done.version)


def _register_dialog(run_id: str) -> None:
    if st.session_state.get(REGISTER) != run_id:
        st.rerun()  # a callback closed it
    actor = current_actor()
    st.caption(f"Run {plain(run_id)}, acting as {plain(actor.name)} ({actor.role})")
    try:
        sources = cached_read(Registry.registrable_sources, run_id)
        names = cached_read(_model_names)
    except RegistryError as exc:
        show_error(exc, "register")
        st.button("Close", key="run.register_close", on_click=_close_register)
        return
    if not sources:
        st.info("This run logged no model and has no artifact folder with an MLmodel file.")
        st.button("Close", key="run.register_close", on_click=_close_register)
        return
    labels = {o.source: o.label for o in sources}
    st.selectbox("What to register", list(labels), format_func=labels.get, key=REG_SOURCE)
    choice = st.selectbox(
        "As a new version of", [NEW_MODEL, *names], format_func=reveal_invisible, key=REG_MODEL
    )
    if choice == NEW_MODEL:
        st.text_input("Name of the new model", key=REG_NEW_NAME)
    st.text_area("Description of the version (optional)", key=REG_DESCRIPTION)
    outcome = st.session_state.get(REGISTER_OUTCOME)
    if outcome:
        kind, message = outcome
        st.error(f"**{plain(kind.capitalize())}**: {plain(message)}", icon=":material/block:")
    confirm, cancel = st.columns(2)
    confirm.button("Register", key="run.register_confirm", type="primary", on_click=_confirm_register)
    cancel.button("Cancel", key="run.register_cancel", on_click=_close_register)


def register_button(run_id: str) -> None:
    """Register a version from this run; viewers see why not (the service refuses them anyway)."""
    done = st.session_state.pop(REGISTERED, None)
    if done:
        model, version = done
        st.success(f"Registered {plain(model)} v{plain(version)}", icon=":material/check_circle:")
        st.page_link(
            "pages/models.py",
            label=f"Open {plain(model)}",
            icon=":material/inventory_2:",
            query_params={"model": model, "version": version},
        )
    actor = current_actor()
    why_not = None if actor.may_change_registry else f"{actor.name} is a viewer: only leads register versions"
    st.button(
        "Register a version…",
        key="run.register_open",
        disabled=why_not is not None,
        help=plain(why_not) if why_not else None,
        on_click=_open_register,
        args=(run_id,),
    )
    if st.session_state.get(REGISTER) == run_id:
        st.dialog("Register a version", width="large", on_dismiss=_close_register)(_register_dialog)(run_id)


_RUN_WIDGETS = ("run_metrics", "run_x", "run_logy", "run_artifact", "run_model", "run_model_file")


def model_files(detail: RunDetail) -> None:
    """MLflow 3 keeps a model's files (MLmodel, requirements, weights) with the model, not the run."""
    models = {m.model_id: m for m in detail.logged_models}
    left, right = st.columns(2)
    model_id = left.selectbox(
        "Files of the logged model",
        list(models),
        key="run_model",
        format_func=lambda i: f"{models[i].name} ({i})",
    )
    files = sorted(
        e.path for e in cached_read(Registry.model_artifact_tree, model_id).entries if not e.is_dir
    )
    if not files:
        st.caption("This logged model has no files.")
        return
    if st.session_state.get("run_model_file") not in files:
        st.session_state["run_model_file"] = "MLmodel" if "MLmodel" in files else files[0]
    path = right.selectbox("File", files, key="run_model_file")
    show_preview(cached_read(Registry.preview_model_artifact, model_id, path))


def pick_run() -> str | None:
    """The run from the URL, or one typed in the sidebar (the box stays, so a wrong id can be fixed).

    A link to another run (parent, child) changes the URL while the box still holds the old id, so
    the URL wins when it changed since the last run of the page (or the box is new: Streamlit drops
    a widget's state on pages where it is not drawn), and the box wins when it did not.
    """
    url_run = query_param("run", "") or ""
    if st.session_state.get("run_url_seen") != url_run or "run_id_input" not in st.session_state:
        st.session_state["run_url_seen"] = url_run
        st.session_state["run_id_input"] = url_run
        for stale in _RUN_WIDGETS:
            st.session_state.pop(stale, None)
    typed = st.sidebar.text_input("Run id", key="run_id_input", placeholder="paste a run id").strip()
    if typed != url_run:
        st.session_state["run_url_seen"] = typed
        for stale in _RUN_WIDGETS:
            st.session_state.pop(stale, None)
        set_query(run=typed or None, metrics=None, x=None, logy=None, artifact=None)
    return typed or None


# The slow parts are fragments: changing the chart's metrics or the previewed file reruns that part
# alone, without reading the run again.
@st.fragment
def history_part(detail: RunDetail) -> None:
    with section("Metric history"):
        st.subheader("Metric history")
        history(detail)


@st.fragment
def artifacts_part(run_id: str) -> None:
    with section("Artifacts"):
        st.subheader("Artifacts")
        artifacts(run_id)


run_id = pick_run()
if not run_id:
    st.title("Run")
    st.caption("Pick one of the newest runs, paste a run id in the sidebar, or find it by experiment.")
    with section("Recent runs"):
        picked = pick_recent_runs("run_pick", multiple=False)
        if picked:
            st.switch_page("pages/run.py", query_params={"run": picked[0]})
    st.page_link("pages/runs.py", label="Experiments & runs", icon=":material/science:")
else:
    detail: RunDetail | None = None
    top = st.container()
    with section("Run"), st.spinner("Loading the run…"):
        detail = cached_read(Registry.run, run_id)
    if detail is None:
        top.title("Run")
        st.caption("Check the run id in the sidebar, or find the run in its experiment.")
        st.page_link("pages/runs.py", label="Find the run in Experiments & runs", icon=":material/science:")
    else:
        with section("Summary"):
            summary(detail)
        params_col, metrics_col = st.columns(2)
        with params_col, section("Params"):
            st.subheader("Params")
            key_values(detail.params, "param", "No params.")
        with metrics_col, section("Metrics"):
            st.subheader("Latest metrics")
            key_values(detail.metrics, "metric", "No metrics.")
        history_slot = st.container()  # the slow parts fill in last: the tables below show first
        with section("Tags"):
            st.subheader("Tags")
            key_values(detail.tags, "tag", "No tags.")
            with st.expander("System tags (mlflow.*)"):
                key_values(detail.system_tags, "tag", "None.")
        artifacts_slot = st.container()
        with section("Models"):
            models(detail)
            register_button(run_id)
        with history_slot:
            history_part(detail)
        with artifacts_slot:
            artifacts_part(run_id)
