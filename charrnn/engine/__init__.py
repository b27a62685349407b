"""Training: the loop, the run directory and its lock, checkpoints, resume, validation cadence."""
