"""Sweeps: grid expansion, where points run (process pool or Ray), the resumable runner, its CLI, and the analysis over seeds."""
