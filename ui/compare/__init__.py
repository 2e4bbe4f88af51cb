"""The Compare page: the runs table and its safe delete (runs), the comparison tables (tables) and the baseline notes (views); the rules behind them live in mtae_core.analysis.comparison."""
