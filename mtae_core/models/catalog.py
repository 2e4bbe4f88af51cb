"""The autoencoder variants and sharing schemes as the Train form and the config see
them: name, summary (the paper), ``Options``. No torch here, so the form shows without
it; each entry's working ``nn.Module`` (``impl``, one module per entry) subclasses its
entry here and is imported when ``autoencoders.get`` / ``sharing.get`` first asks.

Adding a variant or a scheme: its module with the working class, and its entry here
(one decorator)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from ..registry import Entry, NoOptions, Options, Registry

if TYPE_CHECKING:
    from .base import Autoencoder, SharingScheme


class AutoencoderEntry(Entry):
    """Base of the autoencoder variants' entries."""


class SharingEntry(Entry):
    """Base of the sharing schemes' entries."""


autoencoders: Registry[type[Autoencoder], type[AutoencoderEntry]] = Registry(
    "autoencoder", package=__package__)
sharing: Registry[type[SharingScheme], type[SharingEntry]] = Registry(
    "sharing scheme", package=__package__)

# registration order is the order the UI and `mtae list` show: variants, then schemes
# from least to most sharing machinery

@autoencoders.register("plain", impl=".plain:Plain")
class PlainEntry(AutoencoderEntry):
    """Plain autoencoder: the latent code is the encoder's output, nothing added."""

    Options = NoOptions


class DenoisingOptions(Options):
    noise: Literal["gaussian", "masking"] = Field(
        "gaussian", description="gaussian: add N(0, std²) noise; masking: zero a random share of inputs")
    std: float = Field(0.3, ge=0.0, le=5.0, description="standard deviation of the Gaussian noise")
    ratio: float = Field(0.2, ge=0.0, lt=1.0, description="share of input features masked to zero")


@autoencoders.register("denoising", impl=".denoising:Denoising")
class DenoisingEntry(AutoencoderEntry):
    """Denoising autoencoder (Vincent et al. 2008): encode a corrupted input, rebuild the clean one."""

    Options = DenoisingOptions


class SparseOptions(Options):
    penalty: Literal["l1", "kl"] = Field(
        "l1", description="l1: mean absolute latent activation; kl: KL(rho ‖ mean sigmoid activation)")
    weight: float = Field(1e-3, ge=0.0, le=10.0, description="weight of the L1 penalty")
    rho: float = Field(0.05, gt=0.0, lt=1.0, description="target mean activation (kl)")
    beta: float = Field(1e-2, ge=0.0, le=10.0, description="weight of the KL sparsity penalty")


@autoencoders.register("sparse", impl=".sparse:Sparse")
class SparseEntry(AutoencoderEntry):
    """Sparse autoencoder (Ng 2011): an L1 or KL sparsity penalty on the latent activations."""

    Options = SparseOptions


class VariationalOptions(Options):
    # The task losses are means over features while the KL sums over latent units, so
    # beta = 1 would let the KL drown the tasks (posterior collapse: chance accuracy on
    # digits). The plain VAE's balance is beta ≈ 1 / input features (Higgins et al.'s
    # normalised β); 0.02 suits the built-in data sets.
    beta: float = Field(0.02, ge=0.0, le=100.0,
                        description="weight of the KL term (β-VAE, Higgins et al. 2017); "
                        "about 1/number of input features matches the plain VAE, larger "
                        "pulls codes towards N(0, I) and can erase what the tasks need")


@autoencoders.register("variational", impl=".variational:Variational")
class VariationalEntry(AutoencoderEntry):
    """Variational autoencoder (Kingma & Welling 2014; β-VAE, Higgins et al. 2017)."""

    Options = VariationalOptions


class ContractiveOptions(Options):
    lam: float = Field(1e-3, ge=0.0, le=10.0, title="Penalty weight λ",
                       description="weight λ of the encoder's squared Jacobian (Frobenius) norm")


@autoencoders.register("contractive", impl=".contractive:Contractive")
class ContractiveEntry(AutoencoderEntry):
    """Contractive autoencoder (Rifai et al. 2011): penalise the encoder's Jacobian norm."""

    Options = ContractiveOptions


@sharing.register("single_task", impl=".single_task:SingleTask")
class SingleTaskEntry(SharingEntry):
    """Single-task baselines (Caruana 1997's STL): one independent network per task, side by side."""

    Options = NoOptions


class HardOptions(Options):
    shared_depth: int | None = Field(
        None, ge=0, le=7,
        description="encoder layers shared before the task branches start; "
                    "empty = all (plain hard sharing), 0 = no sharing (single-task); "
                    "values above the encoder's depth mean all",
    )


@sharing.register("hard", impl=".hard:HardSharing")
class HardSharingEntry(SharingEntry):
    """Hard parameter sharing (Caruana 1997): a shared encoder trunk, then task branches and heads."""

    Options = HardOptions


class SoftOptions(Options):
    lam: float = Field(1e-3, ge=0.0, le=10.0, title="Penalty weight λ",
                       description="weight λ of Σ over task pairs of ‖θ_t − θ_s‖² (encoder layers)")


@sharing.register("soft", impl=".soft:SoftSharing")
class SoftSharingEntry(SharingEntry):
    """Soft parameter sharing (Duong et al. 2015): one network per task, an L2 penalty pulls their weights together."""

    Options = SoftOptions


class CrossStitchOptions(Options):
    off_diagonal: float = Field(
        0.1, ge=0.0, le=1.0,
        description="initial weight each task column takes from the others, in total "
                    "(α = 1 − this on the diagonal); 0 = identity, independent networks",
    )


@sharing.register("cross_stitch", impl=".cross_stitch:CrossStitch")
class CrossStitchEntry(SharingEntry):
    """Cross-stitch networks (Misra et al. 2016): task columns mixed after every layer by learned α."""

    Options = CrossStitchOptions


class MMoEOptions(Options):
    n_experts: int = Field(4, ge=1, le=16, title="Experts", description="number of shared experts")


@sharing.register("mmoe", impl=".mmoe:MMoE")
class MMoEEntry(SharingEntry):
    """Multi-gate mixture of experts (Ma et al. 2018): shared experts, one softmax gate per task."""

    Options = MMoEOptions


class CGCOptions(Options):
    n_shared: int = Field(2, ge=1, le=8, title="Shared experts", description="experts every task's gate can use")
    n_specific: int = Field(1, ge=1, le=8, title="Experts per task", description="experts of each task's own")


@sharing.register("cgc", impl=".cgc:CGC")
class CGCEntry(SharingEntry):
    """Customized gate control (Tang et al. 2020): shared and task-specific experts, a gate per task."""

    Options = CGCOptions


class PLEOptions(Options):
    n_shared: int = Field(2, ge=1, le=8, title="Shared experts", description="shared experts per extraction level")
    n_specific: int = Field(1, ge=1, le=8, title="Experts per task", description="experts of each task's own, per level")
    n_levels: int = Field(
        2, ge=1, le=7, title="Extraction levels",
        description="extraction levels; the encoder's layers are divided among them "
                    "(at most one level per layer)")


@sharing.register("ple", impl=".ple:PLE")
class PLEEntry(SharingEntry):
    """Progressive layered extraction (Tang et al. 2020): stacked CGC levels with shared gates between."""

    Options = PLEOptions

