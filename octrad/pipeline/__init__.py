"""The pipeline: Boss, Managers and Workers, from description to committed project."""
