"""Running runs: the local ``JobRunner`` and its worker processes (``jobs``, ``worker``),
which take queued runs from the store and honour cancels, and the optional Ray backend
for studies (``ray_backend``, ``ray_task``; the ``ray`` extra). Names are imported on
first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import exports

_WHERE = {
    "JobRunner": "jobs", "execute": "jobs", "execute_group": "jobs", "StoreSink": "jobs",
    "default_workers": "jobs", "APP_STOPPED": "jobs",
    "RayBackend": "ray_backend", "RayUnreachable": "ray_backend",
}
__all__ = [
    "APP_STOPPED", "JobRunner", "RayBackend", "RayUnreachable", "StoreSink", "default_workers",
    "execute", "execute_group",
]
__getattr__ = exports(__name__, _WHERE)

if TYPE_CHECKING:
    from .jobs import APP_STOPPED, JobRunner, StoreSink, default_workers, execute, execute_group
    from .ray_backend import RayBackend, RayUnreachable
