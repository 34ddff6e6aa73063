"""octrad: Octra's daemon.  It owns the database, projects, events and every
call to AI providers, git, Nix and GitHub; clients reach it over a Unix socket."""

__version__ = "0.1.0"
