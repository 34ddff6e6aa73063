"""Skill fragments (markdown with frontmatter), shipped as package data."""
