"""Tool guides, one per tool in a folder per ecosystem, shipped as package data."""
