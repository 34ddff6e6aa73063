"""Nix snapshots of finished projects, GC roots, restore."""
