"""GitHub: issues in, repositories and pull requests out."""
