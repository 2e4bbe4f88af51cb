"""The run store: SQLite in WAL mode, the single source of truth that workers write and
the app reads. Runs and their epochs (``runs``), studies (``studies``), users' tables
(``datasets``) and the source through which configs may name those tables (``tables``)."""

from ..errors import StoreError
from .datasets import DatasetInUse, StoredDataset
from .runs import ACTIVE, STATUSES, Run, RunStore, default_path
from .studies import Study
from .tables import StoreTables, add_table, attach, delete_table

__all__ = ["ACTIVE", "STATUSES", "DatasetInUse", "Run", "RunStore", "StoreTables", "StoredDataset",
           "StoreError", "Study", "add_table", "attach", "default_path", "delete_table"]
