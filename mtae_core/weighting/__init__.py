"""Loss-weighting strategies (registry ``weightings``)."""

from . import equal, fixed  # noqa: F401  (register built-ins)
from .base import Weighting, masked, weightings

__all__ = ["Weighting", "masked", "weightings"]
