"""The loss-weighting strategies as the Train form and the config see them: name,
summary (the paper), ``Options`` and their checks against the chosen tasks, and what a
strategy declares of itself (``needs_task_grads``, ``has_paper``, ``per_step_weights``).
No torch here, so the form shows without it; each strategy's working ``nn.Module``
(``impl``, one module per strategy) subclasses its entry here and is imported when
``weightings.get`` first asks.

Adding a strategy: its module with the working class, and its entry here (one
decorator)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from ..registry import Entry, NoOptions, Options, Registry

if TYPE_CHECKING:
    from .base import Weighting


class WeightingEntry(Entry):
    """Base of the strategies' entries: loss-based unless it says otherwise."""

    needs_task_grads: ClassVar[bool] = False
    # its module's docstring names the paper (a test holds it); False for the baselines
    has_paper: ClassVar[bool] = True
    # its charted weights (``last_weights``) are the step's, 0 for a task the schedule left
    # out; False where they stand for an epoch or the run (set by hand or at epoch ends)
    per_step_weights: ClassVar[bool] = True


class GradientEntry(WeightingEntry):
    """Base of the gradient-based strategies' entries (``GradientWeighting``)."""

    needs_task_grads: ClassVar[bool] = True


weightings: Registry[type[Weighting], type[WeightingEntry]] = Registry(
    "weighting strategy", package=__package__)

# registration order is the order the UI lists them: loss-based, then gradient-based

@weightings.register("equal", impl=".equal:Equal")
class EqualEntry(WeightingEntry):
    """Equal weighting: the mean of the task losses."""

    Options = NoOptions
    has_paper = False


class FixedOptions(Options):
    weights: dict[str, float] = Field(
        default_factory=dict,
        description="λ per task (≥ 0); a task left out gets 1.0",
    )


@weightings.register("fixed", impl=".fixed:Fixed")
class FixedEntry(WeightingEntry):
    """Fixed weights: Σ λ_t L_t with a slider per task."""

    Options = FixedOptions
    has_paper = False
    per_step_weights = False

    @classmethod
    def check(cls, options: Any, tasks: list[str]) -> None:
        for name, w in options.weights.items():
            if name not in tasks:
                raise ValueError(f"weights: {name!r} is not one of the chosen tasks ({', '.join(tasks)})")
            if not w >= 0 or w != w or w == float("inf"):
                raise ValueError(f"weights.{name}: must be a finite number ≥ 0 (got {w})")
        if all(options.weights.get(t, 1.0) == 0 for t in tasks):
            raise ValueError("weights: at least one task needs a weight above 0")


class CurriculumOptions(Options):
    order: list[str] = Field(
        default_factory=list,
        description="tasks in the order they enter; empty = the data set's order",
    )
    start_epochs: list[int] = Field(
        default_factory=list,
        description="epoch (from 0) at which each task of `order` enters; empty = every `spacing` epochs",
    )
    spacing: int = Field(2, ge=0, le=10000, description="epochs between entries when start_epochs is empty")
    ramp_epochs: int = Field(
        2, ge=0, le=10000, description="epochs over which a new task's weight rises linearly to 1; 0 = at once",
    )


@weightings.register("curriculum", impl=".curriculum:Curriculum")
class CurriculumEntry(WeightingEntry):
    """Curriculum (Bengio et al. 2009, applied to tasks): tasks enter in a chosen order at chosen epochs, each weight ramping up linearly."""

    Options = CurriculumOptions
    per_step_weights = False

    @classmethod
    def check(cls, options: Any, tasks: list[str]) -> None:
        o: CurriculumOptions = options
        for name in o.order:
            if name not in tasks:
                raise ValueError(f"order: {name!r} is not one of the chosen tasks ({', '.join(tasks)})")
        if len(set(o.order)) != len(o.order):
            raise ValueError("order: a task is listed twice")
        if o.start_epochs:
            if len(o.start_epochs) != len(o.order):
                raise ValueError("start_epochs: give one epoch per task of `order` "
                                 f"({len(o.order)}), or none")
            if any(e < 0 for e in o.start_epochs):
                raise ValueError("start_epochs: epochs must be ≥ 0")
        if min(cls.starts(o, tasks).values()) > 0:
            raise ValueError("start_epochs: the first task must enter at epoch 0")

    @staticmethod
    def starts(o: CurriculumOptions, tasks: list[str]) -> dict[str, int]:
        """Entry epoch of every task; tasks left out of `order` are there from the start."""
        out = dict.fromkeys(tasks, 0)
        order = o.order or list(tasks)
        for k, name in enumerate(order):
            out[name] = o.start_epochs[k] if o.start_epochs else k * o.spacing
        return out


class UncertaintyOptions(Options):
    init_log_var: float = Field(0.0, ge=-10.0, le=10.0, description="initial s_t = log σ_t² of every task")


@weightings.register("uncertainty", impl=".uncertainty:Uncertainty")
class UncertaintyEntry(WeightingEntry):
    """Homoscedastic uncertainty (Kendall et al. 2018): Σ L_t / (2·exp(s_t)) + s_t / 2 with learnable s_t = log σ_t²."""

    Options = UncertaintyOptions


class DWAOptions(Options):
    temperature: float = Field(2.0, gt=0.0, le=100.0, description="T: higher gives weights closer to equal")


@weightings.register("dwa", impl=".dwa:DWA")
class DWAEntry(WeightingEntry):
    """Dynamic Weight Average (Liu et al. 2019, MTAN): weights n·softmax(r_t / T) of each task's loss ratio r_t = L_t(e−1) / L_t(e−2)."""

    Options = DWAOptions
    per_step_weights = False


class GradNormOptions(Options):
    alpha: float = Field(1.5, ge=0.0, le=10.0, description="α: asymmetry; higher pulls slow tasks harder")


@weightings.register("gradnorm", impl=".gradnorm:GradNorm")
class GradNormEntry(WeightingEntry):
    """GradNorm (Chen et al. 2018): learnable weights whose gradient norms on the last shared layer track each task's relative training rate^α."""

    Options = GradNormOptions


@weightings.register("rlw", impl=".rlw:RLW")
class RLWEntry(WeightingEntry):
    """Random Loss Weighting (Lin et al. 2022, Reasonable Effectiveness of Random Weighting): each step λ = softmax(z), z ~ N(0, I)."""

    Options = NoOptions


@weightings.register("gls", impl=".gls:GLS")
class GLSEntry(WeightingEntry):
    """Geometric Loss Strategy (Chennupati et al. 2019, MultiNet++): the geometric mean (Π L_t)^(1/n) of the task losses."""

    Options = NoOptions


@weightings.register("imtl_l", impl=".imtl_l:IMTLL")
class IMTLLEntry(WeightingEntry):
    """IMTL-L (Liu et al. 2021, Towards Impartial MTL): Σ exp(s_t)·L_t − s_t, learnable s_t drives every scaled loss towards 1."""

    Options = NoOptions


class FAMOOptions(Options):
    lr: float = Field(0.025, gt=0.0, le=1.0, description="β: learning rate of the task logits ξ")
    decay: float = Field(0.001, ge=0.0, le=1.0, description="γ: weight decay of ξ")


@weightings.register("famo", impl=".famo:FAMO")
class FAMOEntry(WeightingEntry):
    """FAMO (Liu et al. 2023, Fast Adaptive Multitask Optimization): weights softmax(ξ) on log-losses, ξ learned so every log-loss falls at the same rate."""

    Options = FAMOOptions


@weightings.register("pcgrad", impl=".pcgrad:PCGrad")
class PCGradEntry(GradientEntry):
    """PCGrad (Yu et al. 2020, Gradient Surgery): project each task gradient off the others it conflicts with, then sum."""

    Options = NoOptions


class GradVacOptions(Options):
    beta: float = Field(0.01, gt=0.0, le=1.0, description="β: rate of the moving average of each pair's cosine target")


@weightings.register("gradvac", impl=".gradvac:GradVac")
class GradVacEntry(GradientEntry):
    """Gradient Vaccine (Wang et al. 2021): steer each pair of task gradients towards its moving-average cosine similarity target."""

    Options = GradVacOptions


class MGDAOptions(Options):
    upper_bound: bool = Field(
        False, description="MGDA-UB: gradients of the shared representation instead of the shared weights (faster)",
    )
    normalization: Literal["none", "l2", "loss", "loss+"] = Field(
        "none", description="scale each task gradient by 1/‖g‖, 1/L or 1/(L‖g‖) before solving",
    )


@weightings.register("mgda", impl=".mgda:MGDA")
class MGDAEntry(GradientEntry):
    """MGDA (Sener & Koltun 2018, MTL as Multi-Objective Optimization): the min-norm convex combination of the task gradients."""

    Options = MGDAOptions


class CAGradOptions(Options):
    c: float = Field(0.4, ge=0.0, le=10.0, description="c: radius of the ball around the mean gradient; 0 = plain mean")
    rescale: bool = Field(True, description="divide the update by 1 + c² (the authors' default)")


@weightings.register("cagrad", impl=".cagrad:CAGrad")
class CAGradEntry(GradientEntry):
    """CAGrad (Liu et al. 2021, Conflict-Averse Gradient Descent): the update near the mean gradient g₀ that maximises the worst task's improvement."""

    Options = CAGradOptions


@weightings.register("imtl_g", impl=".imtl_g:IMTLG")
class IMTLGEntry(GradientEntry):
    """IMTL-G (Liu et al. 2021, Towards Impartial MTL): the update whose projections on every task's unit gradient are equal."""

    Options = NoOptions


@weightings.register("nash_mtl", impl=".nash_mtl:NashMTL")
class NashMTLEntry(GradientEntry):
    """Nash-MTL (Navon et al. 2022, MTL as a Bargaining Game): weights α solving GGᵀα = 1/α, the Nash bargaining solution."""

    Options = NoOptions


class AlignedMTLOptions(Options):
    upper_bound: bool = Field(
        False, description="Aligned-MTL-UB: align gradients of the shared representation (faster)",
    )


@weightings.register("aligned_mtl", impl=".aligned_mtl:AlignedMTL")
class AlignedMTLEntry(GradientEntry):
    """Aligned-MTL (Senushkin et al. 2023, Independent Component Alignment): align the principal components of the gradient matrix to one stable scale."""

    Options = AlignedMTLOptions


@weightings.register("upgrad", impl=".upgrad:UPGrad")
class UPGradEntry(GradientEntry):
    """UPGrad (Quinton & Rey 2024, Jacobian Descent): the mean of each task gradient projected onto the dual cone of all of them (never conflicts)."""

    Options = NoOptions


class DBMTLOptions(Options):
    beta: float = Field(0.9, ge=0.0, lt=1.0, description="β: momentum of the gradient moving average")
    beta_sigma: float = Field(0.5, ge=0.0, le=2.0, description="σ: the momentum decays as β / t^σ")


@weightings.register("db_mtl", impl=".db_mtl:DBMTL")
class DBMTLEntry(GradientEntry):
    """DB-MTL (Lin et al. 2023, Dual-Balancing MTL): log-losses balance the loss scales; moving-average gradients rescaled to the largest norm balance their magnitudes."""

    Options = DBMTLOptions

