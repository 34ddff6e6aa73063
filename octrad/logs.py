"""Logging: a rotating file in the log folder, and plain lines on stderr when
journald (or a terminal) is listening."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

from .redact import RedactingFilter

LOG_NAME = "octrad.log"


def setup(log_dir: str, level: str = "info") -> Path:
    Path(log_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
    path = Path(log_dir) / LOG_NAME
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    redactor = RedactingFilter()
    fh = logging.handlers.RotatingFileHandler(path, maxBytes=10 * 1024 * 1024, backupCount=3)
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    fh.addFilter(redactor)
    root.addHandler(fh)
    if os.environ.get("JOURNAL_STREAM"):
        sh = logging.StreamHandler(sys.stderr)
        sh.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        sh.addFilter(redactor)
        root.addHandler(sh)
    elif sys.stderr is not None and sys.stderr.isatty():
        sh = logging.StreamHandler(sys.stderr)
        sh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
        sh.addFilter(redactor)
        root.addHandler(sh)
    for noisy in ("aiosqlite", "httpx", "httpcore", "git", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path
