"""The Train page's form: every section of ``ExperimentConfig`` as widgets, built from the
config's own schema and each registry entry's ``Options`` (see ``ui.widgets.forms``).

The form lives in the tab's state and its URL (``?cfg=``, see ``ui.frame.url_state`` and
``ui.frame.links``), so a page switch, a refresh and a link all keep a setup: ``open_link``
gives the settings the form starts from; ``keep_in_url`` writes every valid config the
form describes back. ``show_problems`` puts each config problem, in plain words, under
its field.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from mtae_core.config import (
    ConfigError,
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    OptimizerConfig,
    TrainingConfig,
)
from mtae_core.data import datasets
from mtae_core.models import autoencoders, sharing
from mtae_core.schedules import schedules
from mtae_core.weighting import weightings
from ui.frame import links
from ui.frame.url_state import DEFAULT_NAME, decode_config, encode_config
from ui.train.model_views import architecture_figure  # (light: it imports torch when it draws)
from ui.widgets import charts
from ui.widgets.forms import (
    Fields,
    closing,
    collect,
    entry_form,
    entry_picker,
    field_widget,
    hiding,
    is_class_hidden,
    is_hidden,
    model_form,
    register,
)
from ui.widgets.messages import LABELS, Problem, problems
from ui.widgets.text import md

SECTIONS = ["Data", "Model", "Weighting", "Optimizer", "Training"]
LINK_KEY = "train.link"  # session state: (config, problem) the form started from
VALUES_KEY = "train.values"  # session state: the settings the form described on its last run
# the form's tabs: a widget every Train page run draws (alive = the same visit); only the
# open tab's widgets are drawn, the others keep their values in VALUES_KEY
TAB_KEY = "train.tab"
LAST_TAB = "train.last-tab"  # session state: the tab open on the last run (kept across pages)
VISIT_TAB = "train.visit-tab"  # session state: the tab this visit opened on


# ---- the form in the URL ------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """The settings the form starts from: the tab's (or its link's), or the defaults."""

    config: ExperimentConfig
    problem: str | None  # why the link's settings could not be used
    notice: DeltaGenerator  # where a warning about them goes, at the top of the form

    @property
    def name(self) -> str:
        """The run name field's start value (empty = named automatically)."""
        return "" if self.config.name == DEFAULT_NAME else self.config.name

    @property
    def values(self) -> dict[str, Any]:
        """The settings the form draws from on this run: on the visit's first run the
        link's, then whatever the form described on its last run (valid or not), so a
        closed tab's settings keep their values, and an open tab's widgets, alive, keep
        theirs whatever start value they are given."""
        values: dict[str, Any] = st.session_state[VALUES_KEY]
        return values

    def keep(self, raw: dict[str, Any]) -> None:
        """Remember what the form describes now (see ``values``)."""
        st.session_state[VALUES_KEY] = raw


def open_link() -> Link:
    """The settings the form starts from on this visit of the Train page: those the tab
    last had (``ui.frame.links``), else the link's, else the defaults. They are read when the
    form's widgets are not alive (the tab's first run, or a return from another page,
    which dropped them) and then kept, so the widgets' start values never change while
    the page is shown (Streamlit would reset a widget whose start value changes) and a
    setting the user changed stays changed. A link whose settings cannot be used starts
    from the defaults, with a warning saying why."""
    if (TAB_KEY not in st.session_state or LINK_KEY not in st.session_state
            or VALUES_KEY not in st.session_state):
        problem = links.notice(links.CFG)
        try:
            config = decode_config(links.settings())
        except ConfigError as e:  # (links.carry checked it: only a changed schema gets here)
            config, problem = ExperimentConfig(), "; ".join(map(str, problems(e.errors, LABELS)))
        st.session_state[LINK_KEY] = (config, problem)
        st.session_state[VALUES_KEY] = config.to_dict()
        # back from another page: the tab that was open (fixed for the visit: a changed
        # default would make Streamlit take the tabs for a new widget)
        st.session_state[VISIT_TAB] = st.session_state.get(LAST_TAB)
    config, problem = st.session_state[LINK_KEY]
    return Link(config, problem, st.empty())


def keep_in_url(link: Link, cfg: ExperimentConfig | None, name: str) -> None:
    """Keep the form's config in the tab's state and URL (none for the defaults; a typed
    run name only); an invalid form keeps the last valid settings there. Warn about an
    unusable link until the user changes the form it fell back to."""
    text = encode_config(cfg, keep_name=bool(name.strip())) if cfg is not None else None
    if text is not None:
        links.set_settings(text)
    if link.problem is None:
        return
    if text == "":  # still the defaults it fell back to
        link.notice.warning(f"This link's settings could not be used: {md(link.problem)}\n\n"
                            "The form shows the default settings instead.",
                            icon=":material/link_off:")
    else:
        st.session_state[LINK_KEY] = (link.config, None)


# ---- the form ----------------------------------------------------------------------------


def _tasks_of(dataset: str, options: dict[str, Any]) -> list[str]:
    ds = datasets.get(dataset)
    try:
        return list(ds.task_names(ds.Options.model_validate(options)))
    except Exception:  # invalid options: the config reports them; offer the default tasks
        return list(ds.task_names(ds.Options()))


def _default_tasks(dataset: str, options: dict[str, Any]) -> tuple[str, ...]:
    ds = datasets.get(dataset)
    try:
        return tuple(ds.default_tasks_for(ds.Options.model_validate(options or {})))
    except Exception:  # invalid options: the config reports them
        return tuple(ds.default_tasks)


def experiment_form(start: ExperimentConfig | dict[str, Any] | None = None,
                    hidden: frozenset[str] = frozenset()
                    ) -> tuple[dict[str, Any], DeltaGenerator | None, Fields]:
    """Draw the form, its widgets starting from ``start`` (a config or the raw dict an
    earlier run returned; default: the defaults); return the raw config dict it
    describes (not yet validated), the place in the Model tab, under the sharing scheme,
    for ``architecture`` once the config is valid (None when the Model tab is closed or
    hidden), and where each field is (for ``show_problems``).

    Only the open tab's widgets are drawn (a browser draws a closed tab's widgets too,
    which made a reload slow): the other tabs' settings keep their start values, so
    ``start`` must be what the form described on its last run (``Link.values``). The
    config paths in ``hidden`` (a class link's ``?hide=``) draw no widget and keep their
    start values; a tab whose every part is hidden is left out."""
    begin = start.to_dict() if isinstance(start, ExperimentConfig) else (
        start if start is not None else ExperimentConfig().to_dict())
    with collect() as fields, hiding(hidden):
        shown = [s for s in SECTIONS if not all(is_hidden(p) for p in _TAB_PARTS[s])]
        first = st.session_state.get(VISIT_TAB)
        tabs = (dict(zip(shown, st.tabs(shown, key=TAB_KEY, on_change="rerun",
                                        default=first if first in shown else None),
                         strict=True)) if shown else {})
        st.session_state[LAST_TAB] = next((t for t, c in tabs.items() if c.open), None)

        @contextmanager
        def place(section: str) -> Iterator[None]:
            # a closed or hidden tab's code still runs (its settings keep their values),
            # drawing nothing
            tab = tabs.get(section)
            if tab is None:
                with st.empty():
                    yield
            elif tab.open is False:
                with tab, closing(frozenset(_TAB_PARTS[section])):
                    yield
            else:
                with tab:
                    yield

        with place("Data"):
            dataset, ds_options, tasks, split = _data_section(begin["data"])
        with place("Model"):
            model, diagram = _model_section(tasks, begin["model"])
        with place("Weighting"):
            w, s = begin["weighting"], begin["schedule"]
            strategy, w_options = entry_form(
                "Loss weighting", weightings, "weighting", tasks, default=w["strategy"],
                values=w["options"], help="how the task losses are combined into one",
                path="weighting.options", choice_path="weighting.strategy")
            if not is_hidden("weighting") and not is_hidden("schedule"):
                st.divider()
            kind, s_options = entry_form(
                "Task schedule", schedules, "schedule", tasks, default=s["kind"],
                values=s["options"], help="which task(s) each training step trains",
                path="schedule.options", choice_path="schedule.kind")
        with place("Optimizer"):
            optimizer = model_form(OptimizerConfig, "optimizer", values=begin["optimizer"])
        with place("Training"):
            training = model_form(TrainingConfig, "training", values=begin["training"])
            seed = field_widget("seed", ExperimentConfig.model_fields["seed"], "seed",
                                label="Run seed (initialisation and batch order)", value=begin["seed"])
    for path, tab in _TAB_OF.items():  # say where a field is, as its problem may be
        for key in fields.labels:  # shown on another tab than the one open
            if key.startswith(path):
                fields.tabs[key] = tab
    return {
        "name": "",  # filled in by the page (run name field next to the Train button)
        "seed": seed,
        "data": {"dataset": dataset, "tasks": tasks, "options": ds_options, **split},
        "model": model,
        "weighting": {"strategy": strategy, "options": w_options},
        "schedule": {"kind": kind, "options": s_options},
        "optimizer": optimizer,
        "training": training,
    }, diagram, fields


# the config paths each tab holds: a tab is left out when all of them are hidden
_TAB_PARTS = {"Data": ("data",), "Model": ("model",), "Weighting": ("weighting", "schedule"),
              "Optimizer": ("optimizer",), "Training": ("training", "seed")}
_TAB_OF = {"data": "Data", "model": "Model", "weighting": "Weighting",
           "schedule": "Weighting", "optimizer": "Optimizer", "training": "Training",
           "seed": "Training"}


def _data_section(begin: dict[str, Any]) -> tuple[str, dict[str, Any], list[str], dict[str, Any]]:
    dataset = entry_picker("Data set", datasets, "data.dataset.name", default=begin["dataset"],
                           path="data.dataset")
    tasks_box = st.container()  # tasks above the options, though they may depend on them
    ds = datasets.get(dataset)
    same = dataset == begin["dataset"]  # another data set starts from its own defaults
    options = (model_form(ds.Options, f"data.dataset.{dataset}",
                          values=begin["options"] if same else None, path="data.options")
               if ds.Options.model_fields else {})
    allowed = _tasks_of(dataset, options)
    # a data set whose options choose a task set (Census-Income's two groups): another
    # set starts from its own tasks, in a widget of its own
    defaults = _default_tasks(dataset, options)
    begun = same and _default_tasks(dataset, begin["options"]) == defaults
    start = [t for t in (begin["tasks"] if begun else defaults) if t in allowed]
    key = f"data.tasks.{dataset}[{','.join(allowed)}]"  # a new task list: a clean selection
    if defaults != tuple(ds.default_tasks):
        key += f"<{','.join(defaults)}>"
    if is_hidden("data.tasks"):
        register("data.tasks", "Tasks")  # (a label only: no widget)
        sent = st.session_state.get(key) if not is_class_hidden("data.tasks") else None
        tasks = [t for t in sent if t in allowed] if isinstance(sent, list) else start
    else:
        with tasks_box:
            tasks = st.multiselect(
                "Tasks", allowed, default=start, key=key,
                help="the tasks the network learns together; 'reconstruction' rebuilds the input",
            )
            register("data.tasks", "Tasks")
    split_fields = ["val_fraction", "test_fraction", "scaling", "seed"]
    # (a hidden expander would still show its title: leave it out when all of it is hidden)
    box = (st.empty() if all(is_hidden(f"data.{f}") for f in split_fields)
           else st.expander("Split, scaling and data seed"))
    with box:
        split = model_form(DataConfig, "data", only=split_fields, values=begin)
    return dataset, options, tasks, split


def _model_section(tasks: list[str], begin: dict[str, Any]
                   ) -> tuple[dict[str, Any], DeltaGenerator | None]:
    ae, ae_options = entry_form("Autoencoder", autoencoders, "model.autoencoder", tasks,
                                default=begin["autoencoder"],
                                values=begin["options"]["autoencoder"],
                                help="what happens to the input and at the bottleneck",
                                path="model.options.autoencoder",
                                choice_path="model.autoencoder")
    sh, sh_options = entry_form("Parameter sharing", sharing, "model.sharing", tasks,
                                default=begin["sharing"], values=begin["options"]["sharing"],
                                help="which parameters the tasks share",
                                path="model.options.sharing", choice_path="model.sharing")
    # the network, right under the choices that shape it most (not when the tab is hidden)
    diagram = None if is_hidden("model") else st.container()  # (hidden or closed tab)
    if diagram is not None:
        st.divider()
    rest = model_form(ModelConfig, "model", tasks, exclude=["autoencoder", "sharing", "options"],
                      values=begin)
    return {"autoencoder": ae, "sharing": sh, **rest,
            "options": {"autoencoder": ae_options, "sharing": sh_options}}, diagram


def auto_name(raw: dict[str, Any]) -> str:
    """A readable default run name from the chosen settings."""
    return (f"{raw['data']['dataset']} · {raw['model']['sharing']} · "
            f"{raw['weighting']['strategy']}").replace("_", " ")


def build_config(raw: dict[str, Any], name: str = "") -> ExperimentConfig:
    """Validate the form's dict; raises ``ConfigError`` naming the field."""
    if not raw["data"]["tasks"]:
        raise ConfigError([("data.tasks", "must include at least one task")])
    return ExperimentConfig.parse({**raw, "name": name.strip() or auto_name(raw)})


def config_problems(error: ConfigError, fields: Fields) -> list[Problem]:
    """The config's problems in plain words, named by the form's labels."""
    return problems(getattr(error, "problems", error.errors), {**LABELS, **fields.labels})


def preflight_problems(cfg: ExperimentConfig, fields: Fields) -> list[Problem]:
    """What the engine would refuse to train although the config is valid
    (``mtae_core.engine.preflight``: an empty split, a batch larger than the training set, a
    device this machine lacks…), by field. Cheap: the data set is not generated."""
    from mtae_core.engine.preflight import preflight

    try:
        preflight(cfg)
    except ConfigError as e:
        return config_problems(e, fields)
    return []


def show_problems(errors: list[Problem], fields: Fields, summary: DeltaGenerator) -> None:
    """Each problem under its field, and in ``summary`` (by the Train button) a list of
    them naming the tab they are on."""
    by_path: dict[str, list[str]] = {}
    for p in errors:
        by_path.setdefault(p.path, []).append(md(p.text))  # may echo typed text
    for path, texts in by_path.items():
        slot = fields.slots.get(path)
        if slot is not None:
            slot.error("\n\n".join(texts), icon=":material/error:")
    if errors:
        lines = [f"- {md(p.text)}" + (f" (*{fields.tabs[p.path]}* tab)"
                                  if p.path in fields.tabs else "") for p in errors]
        summary.error("Fix this before training:\n" + "\n".join(lines),
                      icon=":material/block:")


# a resource, not data: every rerun would unpickle (and so re-validate) the figure; it is
# only read (st.plotly_chart copies it), so all sessions may share it
@st.cache_resource(show_spinner=False, max_entries=64)
def _architecture(key: str) -> tuple[go.Figure, dict[str, int]]:
    fig, counts = architecture_figure(ExperimentConfig.from_json(key))
    fig.update_layout(dragmode=False)  # a picture, not a plot: no zoom or pan
    return fig, counts


def architecture(cfg: ExperimentConfig) -> None:
    """The network the config builds, redrawn as its options change, with its size."""
    # only the data and model sections shape the network: other changes reuse the drawing
    key = ExperimentConfig().replace(data=cfg.data.model_dump(), model=cfg.model.model_dump(),
                                     seed=cfg.seed).to_json()
    fig, counts = _architecture(key)
    c1, c2, c3 = st.columns(3)
    c1.metric("Parameters", f"{counts['total']:,}")
    c2.metric("Shared", f"{counts['shared']:,}",
              help="parameters that more than one task's loss trains")
    c3.metric("Task-specific", f"{counts['task_specific']:,}")
    # only the camera in the toolbar: a PNG for slides
    st.plotly_chart(fig, config={**charts.chart_config(f"network-{cfg.model.sharing}"),
                                 "modeBarButtons": [["toImage"]], "scrollZoom": False})
