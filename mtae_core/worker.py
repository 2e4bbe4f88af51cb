"""Entry point of a worker process: ``python -m mtae_core.worker --db PATH``."""

from __future__ import annotations

import argparse

from .jobs import worker_main


def main() -> None:
    p = argparse.ArgumentParser(description="MTAE Studio training worker")
    p.add_argument("--db", required=True, help="path of the SQLite run store")
    worker_main(p.parse_args().db)


if __name__ == "__main__":
    main()
