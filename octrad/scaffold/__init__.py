"""Building for real: the flake builder and the tool executor (sandboxed commands)."""
