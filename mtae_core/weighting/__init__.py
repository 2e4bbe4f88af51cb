"""Loss-weighting strategies (registry ``weightings``).

Loss-based: equal, fixed, curriculum, uncertainty, dwa, gradnorm, rlw, gls, imtl_l, famo.
Gradient-based (``GradientWeighting``): pcgrad, gradvac, mgda, cagrad, imtl_g, nash_mtl,
aligned_mtl, upgrad, db_mtl.
"""

# isort: off
from . import (  # noqa: F401  (register built-ins, in the order the UI lists them)
    equal,
    fixed,
    curriculum,
    uncertainty,
    dwa,
    gradnorm,
    rlw,
    gls,
    imtl_l,
    famo,
    pcgrad,
    gradvac,
    mgda,
    cagrad,
    imtl_g,
    nash_mtl,
    aligned_mtl,
    upgrad,
    db_mtl,
)
# isort: on
from .base import Weighting, masked, weightings
from .diagnostics import task_gradient_cosine
from .gradient_base import GradientWeighting, jacobian

__all__ = ["GradientWeighting", "Weighting", "jacobian", "masked", "task_gradient_cosine",
           "weightings"]
