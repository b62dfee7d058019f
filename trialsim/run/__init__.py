"""Running many trials: chunks on executors, per-trial records, checkpoints on disk."""
