"""The Studies page: the form that starts a study (form), its progress (progress), results (results), charts (charts) and Resume (resume)."""
