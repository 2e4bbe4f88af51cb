"""Entry point of a worker process: ``python -m mtae_core.worker --db PATH``."""

from __future__ import annotations

import argparse

from .data.user import use_store
from .jobs import worker_main


def main() -> None:
    p = argparse.ArgumentParser(description="MTAE Studio training worker")
    p.add_argument("--db", required=True, help="path of the SQLite run store")
    db = p.parse_args().db
    use_store(db)  # users' tables (data sets) are read from the store it serves
    worker_main(db)


if __name__ == "__main__":
    main()
