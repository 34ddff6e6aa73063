"""octractl: Octra's scripting CLI.  It speaks only the protocol."""
