"""Octra's wire protocol: the contract between ``octrad`` and its clients.

This package imports nothing else of Octra's, so a custom client can depend on
it alone.  Importing the package is cheap: the submodules (and msgspec) load
only when used, which keeps ``octractl`` start-up fast.
"""

PROTOCOL_VERSION = "1.0"

__all__ = ["PROTOCOL_VERSION"]
