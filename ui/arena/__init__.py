"""The Method arena page: gradient methods on a two-task toy (page)."""
