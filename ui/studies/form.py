"""The Studies page's widgets that start a study: the form ("vary [field] over
[values]", seeds, the data-seed option, the size and time of the study before it
starts), the one-click example, and the buttons other pages use (from the Train page's
settings, from runs ticked on Compare). One study's view is in ``ui.studies.progress``.

The engine (``mtae_core.studies``) expands, plans, starts and summarises studies; this
module only reads widgets, shows what the engine says in plain words, and queues runs
into the store for the app's workers (``ui.frame.state.get_runner``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from mtae_core import studies
from mtae_core.analysis.baselines import BASELINE, differences
from mtae_core.config import ConfigError, ExperimentConfig
from mtae_core.errors import cut
from mtae_core.store.access import NotAllowed
from mtae_core.store.runs import RunStore
from mtae_core.studies.spec import data_seed_supported
from mtae_core.weighting import weightings
from ui.classroom import roles as classroom
from ui.frame import identity, links, notices
from ui.frame.state import get_runner, get_store, workers_enabled
from ui.frame.url_state import decode_config
from ui.studies.progress import STUDY_PARAM
from ui.studies.results import spec_download
from ui.widgets.forms import parse_number_list
from ui.widgets.text import md

MAX_AXES = 3
DEFAULT_SEEDS = 3
NONE = "—"

SEED_HELP = (
    "**What each seed changes.** The *training seed* sets the network's starting weights, "
    "the order of the batches and any noise (dropout, denoising). The *data seed* sets how "
    "the data set is drawn (on synthetic_correlated: the task functions themselves) and how "
    "it is split into training, validation and test. By default every seed of a study "
    "trains on the same data, so the spread you see is the training's luck alone. Tick "
    "the box to draw new data and a new split for each seed too: the spread then also "
    "covers the data, which is closer to \"would this hold on other data?\".")
SEED_HELP_NO_DATA_SEED = (
    "**What each seed changes.** In this version one seed sets everything random: the "
    "network's starting weights, the order of the batches, any noise (dropout, denoising), "
    "and also how the data set is drawn (on synthetic_correlated: the task functions "
    "themselves) and how it is split into training, validation and test. So the spread "
    "over a study's seeds covers both the training's luck and the data.")


# ---- where the study's base settings come from ----------------------------------------------


def base_config() -> tuple[ExperimentConfig, str]:
    """The settings a new study starts from and where they come from: the tab's Train
    settings (``ui.frame.links``: what the Train form last described, or the link's ``?cfg=``),
    else the defaults."""
    text = links.settings()
    if text:
        try:
            return decode_config(text), "the Train page's settings"
        except ConfigError:  # (links.carry checked it: only a changed schema gets here)
            pass
    return ExperimentConfig(), "the default settings"


# ---- the axis picker ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    """One "vary [field] over [values]" row as the user filled it in."""

    path: str
    values: list[Any]
    problem: str | None  # plain words, shown next to the values
    slot: Any = None  # where a problem the engine finds with this axis is shown


def _meta(info: Any, name: str, default: Any = None) -> Any:
    return info.get(name, default) if isinstance(info, dict) else getattr(info, name, default)


def field_label(path: str, fields: dict[str, Any]) -> str:
    return str(_meta(fields.get(path), "label", None) or path)


def _start_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return "" if value is None else str(value)


def _number_values(label: str, text: str, info: Any) -> tuple[list[Any], str | None]:
    """Parse "0.1, 0.5, 0.9" into numbers, in plain words when it cannot. Whether each
    value is allowed (bounds, whole numbers) is the config's to say: ``StudySpec.parse``
    checks every value against the field and names the axis and the field."""
    values = parse_number_list(text)
    if not values:
        return [], f"{label}: give at least one value, separated by commas"
    bad = [v for v in values if isinstance(v, str)]
    if bad:
        return [], f"{label}: '{cut(str(bad[0]))}' is not a number"
    if _meta(info, "integer", False):
        # "3.0" means 3 to a person; the config takes only whole numbers as such (a
        # fraction goes on as it is, for the config to refuse by name)
        values = [int(v) if isinstance(v, float) and v.is_integer() else v for v in values]
    if len(set(values)) != len(values):
        return [], f"{label}: a value is listed twice"
    return values, None


def _lambda_values(text: str) -> tuple[list[float], str | None]:
    """The λ of a weight sweep: numbers from 0 to 1 (λ for one task, 1 − λ for the other:
    a rule of this sweep, not a bound of any config field, so it is checked here)."""
    lams, problem = _number_values("λ", text, {})
    for lam in lams:
        if lam < 0.0:
            return [], f"λ must be at least 0.0 (got {lam})"
        if lam > 1.0:
            return [], f"λ must be at most 1.0 (got {lam})"
    return lams, problem


WEIGHTS = "weighting.options.weights"


def _weights_values(place: Any, label: str, key: str, tasks: list[str]
                    ) -> tuple[str, list[Any], str | None]:
    """A grid of fixed weights between two tasks: λ for the first, 1 − λ for the second
    (tasks left out keep weight 1), the scalarisation whose front the Pareto view draws.
    Other strategies may join as cells of the same axis (then the axis is the whole
    weighting section): "do gradient methods beat tuned weights?" in one picture."""
    if len(tasks) < 2:
        return WEIGHTS, [], f"{label}: a weight sweep needs at least two tasks"
    a, b = place.columns(2)
    first = a.selectbox("λ for task", tasks, key=f"{key}.a")
    second = b.selectbox("1 − λ for task", [t for t in tasks if t != first], key=f"{key}.b")
    text = place.text_input("λ values", value="0.1, 0.3, 0.5, 0.7, 0.9", key=f"{key}.lam",
                            help="each λ between 0 and 1")
    others = place.multiselect("Also compare with these strategies",
                               [w for w in weightings.names() if w != "fixed"],
                               key=f"{key}.others",
                               help="each one a cell of this axis, on the same Pareto view")
    lams, problem = _lambda_values(text)
    weights = [{first: float(lam), second: round(1.0 - float(lam), 10)} for lam in lams]
    if not others:
        return WEIGHTS, weights, problem
    values: list[Any] = [{"strategy": "fixed", "options": {"weights": w}} for w in weights]
    return "weighting", values + [{"strategy": o} for o in others], problem


def weights_field() -> studies.AxisField:
    """The λ grid as an axis even when the base does not weigh with fixed weights (a
    study of fixed λ switches those cells to the fixed weighting)."""
    return studies.AxisField(WEIGHTS, "Fixed task weights λ", "weights",
                             description="a grid of fixed loss weights between two tasks")


def axis_picker(base: ExperimentConfig, fields: dict[str, Any]) -> list[Axis]:
    """Up to ``MAX_AXES`` rows of "vary [field] over [values]"; a row appears once the
    row above it names a field. Choices are a multiselect, numbers a list typed in."""
    axes: list[Axis] = []
    flat = _flat(base.to_dict())
    for i in range(MAX_AXES):
        left, right = st.columns([2, 3])
        taken = {a.path for a in axes}
        paths = [NONE] + [p for p in fields if p not in taken]
        path = left.selectbox(f"Vary (axis {i + 1})", paths, key=f"studies.axis{i}.field",
                              format_func=lambda p: p if p == NONE else field_label(p, fields),
                              help="a setting of the run to try several values of")
        if path == NONE:
            break
        info = fields[path]
        label = field_label(path, fields)
        kind = _meta(info, "kind", "number")
        key = f"studies.axis{i}.values.{path}"
        problem: str | None = None
        if kind in ("choice", "bool"):
            allowed = list(_meta(info, "choices", None) or _meta(info, "values", None)
                           or ([False, True] if kind == "bool" else []))
            values = right.multiselect(f"{label} — values", allowed, key=key,
                                       default=[v for v in allowed if v == flat.get(path)][:1],
                                       help=_meta(info, "description", None) or None)
            if not values:
                problem = f"{label}: choose at least one value"
        elif kind == "number":
            text = right.text_input(f"{label} — values", key=key,
                                    value=_start_text(flat.get(path)),
                                    placeholder="comma-separated, e.g. 0.1, 0.5, 0.9",
                                    help=_meta(info, "description", None) or None)
            values, problem = _number_values(label, text, info)
        else:  # per-task weights: λ for one task, 1 − λ for another
            path, values, problem = _weights_values(right, label, key, list(base.data.tasks))
        slot = right.empty()
        if problem:
            slot.error(md(problem), icon=":material/error:")
        axes.append(Axis(path, list(values), problem, slot))
    return axes


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(d, dict):
        for k, v in d.items():
            p = f"{prefix}.{k}" if prefix else str(k)
            out[p] = v
            out.update(_flat(v, p))
    return out


# ---- the whole form --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """What the form describes: a valid spec, or the problems that keep it from being one."""

    spec: Any | None  # studies.StudySpec
    problems: list[str]


def _auto_name(base: ExperimentConfig, axes: Sequence[Axis], fields: dict[str, Any]) -> str:
    varied = " × ".join(field_label(a.path, fields) for a in axes) or "seeds"
    return f"{base.data.dataset}: {varied}"[:100]


def study_form(store: RunStore) -> Draft:
    """Draw the form and return the study it describes; errors are shown next to their
    field and listed in ``problems``."""
    base, source = base_config()
    fields: dict[str, Any] = dict(studies.axis_fields(base))
    fields.setdefault(WEIGHTS, weights_field())
    st.caption(f"Starts from {source}: {base.data.dataset}, tasks "
               f"{', '.join(base.data.tasks)}, {base.model.sharing} sharing, "
               f"{base.weighting.strategy} weighting.")
    axes = axis_picker(base, fields)
    c1, c2, c3 = st.columns([1, 1, 2])
    seeds = int(c1.number_input("Seeds", min_value=1, max_value=50, value=DEFAULT_SEEDS, step=1,
                                key="studies.seeds",
                                help="each cell is trained once per seed; 3 or more show the spread"))
    epochs = c2.number_input("Epochs per run", min_value=1, max_value=10000, step=1,
                             value=int(base.training.epochs), key="studies.epochs")
    name = c3.text_input("Study name", key="studies.name", max_chars=100,
                         placeholder=_auto_name(base, axes, fields))
    own_seed = data_seed_supported()
    vary_data = st.checkbox(
        "Draw new data for each seed too", key="studies.vary_data", disabled=not own_seed,
        value=not own_seed,
        help="off: the data and its split stay fixed; only training varies" if own_seed else
        "the data has no seed of its own in this version: each seed draws the data too")
    with st.expander("What each seed changes", icon=":material/casino:"):
        st.markdown(SEED_HELP if own_seed else SEED_HELP_NO_DATA_SEED)
    problems = [a.problem for a in axes if a.problem]
    if problems:
        return Draft(None, problems)
    obj = {
        "name": name.strip() or _auto_name(base, axes, fields),
        "base": base.replace(training={"epochs": int(epochs)}).to_dict(),
        "axes": {a.path: a.values for a in axes},
        "seeds": seeds,
        "vary_data_seed": bool(vary_data),
    }
    try:
        return Draft(studies.StudySpec.parse(obj), [])
    except ConfigError as e:
        text = _plain(e)
        # next to the axis the message names, else above the Start button
        axis = next((a for a in axes if a.path in text), None)
        (axis.slot if axis is not None else st).error(md(text), icon=":material/error:")
        return Draft(None, [text])


def _plain(e: ConfigError) -> str:
    """The error's messages, each after its field's label; a message about an axis
    names the axis itself."""
    return "\n\n".join(
        p.message if not p.path or p.path.startswith("axes") else f"{p.label or p.path}: {p.message}"
        for p in e.problems) or str(e)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    minutes = seconds / 60
    if minutes < 60:
        return f"{minutes:.0f} min" if minutes >= 10 else f"{minutes:.1f} min"
    return f"{minutes / 60:.1f} h"


def study_size(spec: Any, store: RunStore) -> tuple[str, int]:
    """The study's size in plain words (cells × seeds, baselines, reused runs, time) and
    how many runs it would queue."""
    planned = studies.plan(spec, store)
    cells = [p for p in planned if p.role == "cell"]
    bases = [p for p in planned if p.role == "baseline"]
    reused = [p for p in planned if p.reuse is not None]
    n_cells = len(spec.cells())
    text = (f"**{len(planned)} runs**: {n_cells} cell(s) × {len(spec.seeds)} seed(s) = "
            f"{len(cells)}, plus {len(bases)} matched single-task baseline(s)")
    if any(c.config.model.sharing == BASELINE for c in spec.cells()):
        text += " (a single_task cell is its own baseline)"
    if reused:
        text += f"; {len(reused)} identical run(s) already in the store are reused, not retrained"
    new = len(planned) - len(reused)
    runner = _runner_or_none()  # the app's own pool, else a pool's default size
    workers = max(1, int(getattr(runner, "n_workers", 0) or studies.default_workers()))
    seconds = studies.estimate_seconds(spec, store, n_workers=workers)
    if new and seconds is not None:
        text += f". About {_duration(seconds)} with {workers} worker(s) at a time"
    return text + ".", new


def _runner_or_none() -> Any:
    return get_runner() if workers_enabled() else None


def start_study(store: RunStore, spec: Any, on_ray: bool = False,
                address: str | None = None) -> int:
    """Queue the study's runs in the store (one transaction for all of them) and make
    sure the app's workers are running to take them; returns the study id. ``on_ray``:
    the runs are queued for the app's Ray driver instead (local workers leave them), which
    joins the cluster at ``address`` (None: a Ray instance on this computer). Raises
    ``RayUnreachable`` (plain words) when the cluster cannot be joined; nothing is queued
    then."""
    try:
        if on_ray:
            backend = _ray_backend(str(store.path), address) if workers_enabled() else None
            study_id = int(studies.start(store, spec, backend=RAY, owner=classroom.owner(),
                                         actor=identity.actor()))
            if backend is not None:
                backend.drive(study_id)
            return study_id
        study_id = int(studies.start(store, spec, owner=classroom.owner(),  # the Class page's
                                     actor=identity.actor()))
    except NotAllowed as e:  # (QueueFull: the study has more runs than the class's cap)
        notices.flash(str(e))
        st.rerun()
    if workers_enabled():
        get_runner().start()  # (already started with the app: then nothing to do)
    return study_id


RAY = "ray"
RUN_ON = {"local": "This computer's workers", RAY: "Ray (this computer or a cluster)"}


@st.cache_resource(show_spinner="Starting Ray…")
def _ray_backend_for(path: str) -> Any:
    from mtae_core.runner.ray_backend import RayBackend

    return RayBackend(RunStore(path))


def _ray_backend(path: str, address: str | None) -> Any:
    """The app's one Ray driver (a thread of the server, ended with it): Ray joins one
    cluster per process, the first one asked for."""
    backend = _ray_backend_for(path)
    if not backend.connected:
        backend.address = address
    elif address != backend.address:
        st.warning(f"This app already runs studies on Ray at "
                   f"{backend.address or 'this computer'}; the study runs there (restart the "
                   "app to use another cluster).", icon=":material/info:")
    return backend.start()


def run_on_choice() -> tuple[bool, str | None]:
    """Where a new study runs: the app's workers, or Ray when it is installed (the choice
    is absent otherwise). Returns (on Ray, the cluster's address or None)."""
    from mtae_core.runner.ray_backend import available

    if not available():
        return False, None
    c1, c2 = st.columns([1, 1])
    where = c1.radio("Run on", list(RUN_ON), format_func=RUN_ON.__getitem__, horizontal=True,
                     key="studies.backend",
                     help="Ray runs each of the study's runs as a task on a Ray cluster; "
                          "without an address a Ray instance starts on this computer")
    if where != RAY:
        return False, None
    address = c2.text_input("Ray cluster address", key="studies.ray_address",
                            placeholder="blank: start Ray on this computer",
                            help="what `ray start --head` printed, e.g. 192.168.1.10:6379")
    return True, address.strip() or None


def start_section(store: RunStore) -> int | None:
    """The "New study" form with its size, estimate and Start button (disabled while the
    form has a problem); returns the id of a study started by this run of the page."""
    draft = study_form(store)
    if draft.spec is not None:
        text, _ = study_size(draft.spec, store)
        st.info(text, icon=":material/calculate:")
    elif draft.problems:
        st.caption("Start is off until the problem above is fixed.")
    on_ray, address = run_on_choice()
    started = st.button("Start study", type="primary", disabled=draft.spec is None,
                        icon=":material/play_arrow:", key="studies.start")
    if started and draft.spec is not None:
        from mtae_core.runner.ray_backend import RayUnreachable

        try:
            return int(start_study(store, draft.spec, on_ray, address))
        except RayUnreachable as e:
            st.error(str(e), icon=":material/cloud_off:")
            return None
    if draft.spec is not None:
        spec_download(draft.spec, key="studies.spec.new")
    return None


# ---- the example study (empty store) --------------------------------------------------------------


def example_spec() -> Any:
    """Digits, hard sharing vs MMoE vs single-task networks, 3 seeds, 5 epochs each: a
    minute or two on a laptop's CPU."""
    return studies.StudySpec.parse({
        "name": "Example: hard vs MMoE vs single-task on digits",
        "base": {"data": {"dataset": "digits"}, "training": {"epochs": 5}},
        "axes": {"model.sharing": ["hard", "mmoe", "single_task"]},
        "seeds": 3,
    })


def example_button(store: RunStore) -> int | None:
    spec = example_spec()
    text, _ = study_size(spec, store)
    st.caption(text.replace("**", ""))
    if st.button("Start the example study", type="primary", icon=":material/science:",
                 key="studies.example"):
        return int(start_study(store, spec))
    return None


# ---- starting a study from other pages --------------------------------------------------------------


def study_button_from_train(cfg: ExperimentConfig | None, place: Any = None) -> None:
    """On the Train page: offer to vary the current settings in a study (drawn in
    ``place``, e.g. the form's column). The settings travel in the tab (``ui.frame.links``)."""
    if cfg is None:
        return
    # a short label: the form's column is narrow and a page link does not wrap
    (place or st).page_link("pages/studies.py", label="Vary these settings in a study",
                            icon=":material/science:", query_params=links.page_params(),
                            help="repeat them over several seeds, against matched "
                                 "single-task baselines, on the Studies page")


SEEDS_FROM_COMPARE = 3


# an axis over a component picks another entry; its options live under this path
_COMPONENT_OPTIONS = {"model.sharing": "model.options.sharing",
                      "model.autoencoder": "model.options.autoencoder",
                      "weighting.strategy": "weighting.options",
                      "schedule.kind": "schedule.options", "data.dataset": "data.options"}


def repeat_spec(runs: Sequence[ExperimentConfig], seeds: int = SEEDS_FROM_COMPARE) -> Any:
    """A study that repeats the given runs' settings over ``seeds`` seeds (starting at the
    first run's seed, so that run itself is reused). Runs may differ in one setting
    (a component such as the sharing scheme counts with its options), which becomes the
    study's axis; raises ``ConfigError`` in plain words otherwise."""
    if not runs:
        raise ConfigError([("", "tick at least one run")])
    base = runs[0]
    diffs: dict[str, None] = {}
    for cfg in runs[1:]:
        for path in differences(base, cfg):
            if path not in ("name", "seed", "data.seed"):
                diffs[path] = None
    axes: dict[str, list[Any]] = {}
    if diffs:
        axis = _one_axis(list(diffs))
        if axis is None:
            raise ConfigError([("", "these runs differ in more than one setting ("
                                + ", ".join(list(diffs)[:4]) + "); tick runs that differ in "
                                "one setting only, such as the sharing scheme")])
        values: list[Any] = []
        for cfg in runs:
            flat = _flat(cfg.to_dict())
            v = flat.get(axis)
            if axis in _COMPONENT_OPTIONS:  # the entry with its own options, as it ran
                v = {axis.rsplit(".", 1)[1]: v, "options": flat.get(_COMPONENT_OPTIONS[axis])}
            if v not in values:
                values.append(v)
        axes[axis] = values
    names = ", ".join(cfg.name for cfg in runs[:3]) + ("…" if len(runs) > 3 else "")
    return studies.StudySpec.parse({
        "name": f"Repeat over {seeds} seeds: {names}"[:100], "base": base.to_dict(),
        "axes": axes, "seeds": [base.seed + i for i in range(seeds)]})


def _one_axis(paths: list[str]) -> str | None:
    """The one setting all differing paths belong to: a single field, or a component
    (sharing scheme, weighting, …) together with its options."""
    if len(paths) == 1 and not any(paths[0].startswith(o + ".")
                                   for o in _COMPONENT_OPTIONS.values()):
        return paths[0]
    for axis, options in _COMPONENT_OPTIONS.items():
        if axis in paths and all(p == axis or p.startswith(options + ".") for p in paths):
            return axis
    return None


def repeat_over_seeds_button(chosen: pd.DataFrame) -> None:
    """On the Compare page: "repeat these runs over 3 seeds" for the ticked runs."""
    if chosen.empty:
        return
    store = get_store()
    configs = [r.config for r in (store.get_run(int(i)) for i in chosen["id"]) if r is not None]
    try:
        spec = repeat_spec(configs)
    except ConfigError as e:
        st.caption(f"Repeat over seeds: {md(_plain(e))}")
        return
    text, _ = study_size(spec, store)
    if st.button(f"Repeat these runs over {SEEDS_FROM_COMPARE} seeds", icon=":material/science:",
                 key="compare.repeat", help=text.replace("**", "")):
        study_id = start_study(store, spec)
        st.switch_page("pages/studies.py", query_params={STUDY_PARAM: str(study_id)})
