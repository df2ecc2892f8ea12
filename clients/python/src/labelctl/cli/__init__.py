"""The `labelctl` command line, on top of `labelctl.Client`."""
from labelctl.cli.app import main

__all__ = ["main"]
