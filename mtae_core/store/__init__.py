"""The run store: SQLite in WAL mode, the single source of truth that workers write and
the app reads. Runs and their epochs (``runs``), studies (``studies``), users' tables
(``datasets``), who may act on them and the audit log (``access``, ``classroom``,
``audit``; the fair queue: ``fair``) and the source through which configs may name those
tables (``tables``)."""

from ..errors import StoreError
from .access import CLI, Actor, ClassSettings, DeletePreview, NotAllowed, QueueFull, check_key
from .datasets import DatasetInUse, StoredDataset
from .runs import ACTIVE, STATUSES, Run, RunStore, default_path
from .studies import Study
from .tables import StoreTables, add_table, attach, delete_table

__all__ = ["ACTIVE", "CLI", "STATUSES", "Actor", "ClassSettings", "DatasetInUse", "DeletePreview",
           "NotAllowed", "QueueFull", "Run", "RunStore", "StoreError", "StoreTables", "StoredDataset",
           "Study", "add_table", "attach", "check_key", "default_path", "delete_table"]
