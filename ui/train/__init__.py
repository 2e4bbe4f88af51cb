"""The Train page: its form (form), the live run view (live) and the network diagram (model_views)."""
