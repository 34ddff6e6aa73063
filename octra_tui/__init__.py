"""octra-tui: Octra's terminal UI.  It speaks only the protocol."""
