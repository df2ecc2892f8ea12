"""`labelctl`: the parser, the settings, and exit codes (0 ok, 1 API or network error, 2 usage)."""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

import httpx

from labelctl._http import VERSION
from labelctl.cli import account, jobs, projects, webhooks
from labelctl.cli.config import Settings, UsageError, resolve
from labelctl.cli.output import Output
from labelctl.client import Client
from labelctl.errors import LabelctlError

OK, FAILED, USAGE = 0, 1, 2


@dataclass
class Context:
    """What a command needs: its settings, where to print, and how to make a client."""

    settings: Settings
    out: Output
    environ: Mapping[str, str]
    stdin: IO[str]
    transport: httpx.BaseTransport | None = None

    def client(self, *, authenticated: bool = True) -> Client:
        if authenticated and not self.settings.api_key:
            raise UsageError("no API key: run `labelctl login`, set LABELCTL_API_KEY or pass --api-key")
        return Client(self.settings.url, api_key=self.settings.api_key if authenticated else None,
                      transport=self.transport)


Handler = Callable[[Context, argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so `main` returns the usage code."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog="labelctl", description="Requester's command line for the labeling marketplace API. "
                  "Prints JSON on stdout (lists as JSON Lines); notes and progress go to stderr.")
    top.add_argument("--url", dest="server_url", help="server root, e.g. https://labels.example.com (env LABELCTL_URL)")
    top.add_argument("--api-key", help="API key (env LABELCTL_API_KEY; else the one `labelctl login` saved)")
    top.add_argument("--table", action="store_true", help="print tables for people instead of JSON")
    top.add_argument("--version", action="version", version=f"labelctl {VERSION}")
    commands = top.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    account.add_commands(commands)
    projects.add_commands(commands)
    jobs.add_commands(commands)
    webhooks.add_commands(commands)
    return top


def main(argv: Sequence[str] | None = None, *, transport: httpx.BaseTransport | None = None,
         environ: Mapping[str, str] | None = None, stdin: IO[str] | None = None, stdout: IO[str] | None = None,
         stderr: IO[str] | None = None) -> int:
    """Run one command; returns the exit code. The keywords replace the process's world (tests)."""
    out = Output(stdout or sys.stdout, stderr or sys.stderr)
    env = os.environ if environ is None else environ
    try:
        with contextlib.redirect_stdout(out.stdout):  # --help and --version print to the given stdout
            args = parser().parse_args(argv)
    except UsageError as exc:
        out.note(f"{exc}\nrun `labelctl --help` (or `labelctl COMMAND --help`) for usage")
        return USAGE
    except SystemExit as exit_:  # --help, --version
        return exit_.code if isinstance(exit_.code, int) else OK
    out.table = args.table
    try:
        context = Context(settings=resolve(args.server_url, args.api_key, env), out=out, environ=env,
                          stdin=stdin or sys.stdin, transport=transport)
        handler: Handler = args.handler
        return handler(context, args)
    except UsageError as exc:
        out.note(f"labelctl: {exc}")
        return USAGE
    except (FileNotFoundError, IsADirectoryError) as exc:
        out.note(f"labelctl: {exc.strerror}: {exc.filename}")
        return USAGE
    except LabelctlError as exc:
        out.error(exc)
        return FAILED
    except KeyboardInterrupt:
        out.note("interrupted")
        return 130
