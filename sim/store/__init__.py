"""Records on disk: atomic writes, run folders and their locks, results tables, and reading a finished run back."""
