"""The config fields a study may vary, with label, kind and allowed values, read from the
same schemas the Train form builds its widgets from."""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel

from ..config import DataConfig, ExperimentConfig


@dataclass(frozen=True)
class AxisField:
    path: str
    label: str
    kind: Literal["choice", "number", "bool", "weights", "other"]
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    description: str = ""


_REGISTRY_FIELDS = {"data.dataset": "datasets", "model.autoencoder": "autoencoders",
                    "model.sharing": "sharing", "weighting.strategy": "weightings",
                    "schedule.kind": "schedules"}


def _registries() -> dict[str, Any]:
    from ..data import datasets
    from ..models import autoencoders, sharing
    from ..schedules import schedules
    from ..weighting import weightings

    return {"datasets": datasets, "autoencoders": autoencoders, "sharing": sharing,
            "weightings": weightings, "schedules": schedules}


def _field_info(path: str, name: str, f: Any) -> AxisField | None:
    ann = f.annotation
    if get_origin(ann) in (Union, types.UnionType):
        args = [a for a in get_args(ann) if a is not type(None)]
        ann = args[0] if len(args) == 1 else ann
    label = f.title or name.replace("_", " ").capitalize()
    desc = f.description or ""
    if ann is bool:
        return AxisField(path, label, "bool", (False, True), description=desc)
    if get_origin(ann) is Literal:
        return AxisField(path, label, "choice", get_args(ann), description=desc)
    if ann in (int, float):
        lo = hi = None
        for m in f.metadata:
            if isinstance(m, Ge | Gt):
                lo = float(m.ge if isinstance(m, Ge) else m.gt)  # type: ignore[arg-type]
            elif isinstance(m, Le | Lt):
                hi = float(m.le if isinstance(m, Le) else m.lt)  # type: ignore[arg-type]
        return AxisField(path, label, "number", (), lo, hi, ann is int, desc)
    if get_origin(ann) is dict and get_args(ann)[1:] and get_args(ann)[1] in (float, int):
        return AxisField(path, label, "weights", description=desc or "one weight per task")
    return None


def _model_fields(model: type[BaseModel], prefix: str) -> dict[str, AxisField]:
    out = {}
    for name, f in model.model_fields.items():
        info = _field_info(f"{prefix}.{name}", name, f)
        if info is not None:
            out[info.path] = info
    return out


def axis_fields(base: ExperimentConfig | None = None) -> dict[str, AxisField]:
    """Dotted paths a study may vary, with label, kind and allowed values, from the same
    schemas the Train form uses; with ``base``, also the options of its chosen entries."""
    from ..config import (
        ModelConfig,
        OptimizerConfig,
        TrainingConfig,
    )

    base = base or ExperimentConfig()
    regs = _registries()
    out: dict[str, AxisField] = {}
    for path, reg in _REGISTRY_FIELDS.items():
        out[path] = AxisField(path, path.split(".")[1].capitalize().replace("_", " "),
                              "choice", tuple(regs[reg].names()))
    for section, model in (("data", DataConfig), ("model", ModelConfig),
                           ("optimizer", OptimizerConfig), ("training", TrainingConfig)):
        for path, info in _model_fields(model, section).items():
            out.setdefault(path, info)
    entries = (("data.options", "datasets", base.data.dataset),
               ("model.options.autoencoder", "autoencoders", base.model.autoencoder),
               ("model.options.sharing", "sharing", base.model.sharing),
               ("weighting.options", "weightings", base.weighting.strategy),
               ("schedule.options", "schedules", base.schedule.kind))
    for prefix, reg, name in entries:
        out.update(_model_fields(regs[reg].get(name).Options, prefix))
    out.pop("training.device", None)  # where a run trains changes no result worth comparing
    return out
