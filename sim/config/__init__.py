"""The scenario: its pydantic schema, the workload union built from the registered algorithms' configs, the sweep block's grid, loading and cross-checks."""
