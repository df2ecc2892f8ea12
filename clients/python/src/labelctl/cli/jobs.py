"""`labelctl exports ...` and `labelctl imports ...`: background jobs for big projects, with progress."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labelctl.cli.config import UsageError
from labelctl.results import EXPORT_FORMATS

if TYPE_CHECKING:
    from labelctl.cli.app import Context

JOB_COLUMNS = ("id", "status", "format", "rows_done", "rows_total", "percent", "created_at", "finished_at")


def add_commands(commands: Any) -> None:
    exports = commands.add_parser("exports", help="export jobs (big projects)").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    create = _command(exports, "create", create_export, "queue an export of a project's results", "project_id")
    create.add_argument("--format", choices=EXPORT_FORMATS, default="jsonl")
    create.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                        help="a format's own option, e.g. val_fraction=0.1 or lang=de (repeatable)")
    create.add_argument("--wait", action="store_true", help="follow its progress until it finishes")
    create.add_argument("--output", "-o", help="with --wait: download the file here when done")
    create.add_argument("--interval", type=float, default=2.0, help="seconds between polls (default 2)")
    _command(exports, "get", get_job, "one export job", "job_id").set_defaults(kind="exports")
    _command(exports, "list", list_jobs, "a project's export jobs", "project_id").set_defaults(kind="exports")
    wait = _command(exports, "wait", wait_job, "follow an export job until it finishes", "job_id")
    wait.set_defaults(kind="exports")
    wait.add_argument("--interval", type=float, default=2.0, help="seconds between polls (default 2)")
    download = _command(exports, "download", download_export, "download a finished export (resumes)", "job_id")
    download.add_argument("--output", "-o", required=True, help="file to write")

    imports = commands.add_parser("imports", help="import jobs (files of any size)").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    start = _command(imports, "create", create_import, "upload a .jsonl/.csv file (or give --url) and import it",
                     "project_id")
    start.add_argument("file", type=Path, nargs="?", help="the file to upload")
    start.add_argument("--url", help="instead of a file: an https URL the server fetches")
    start.add_argument("--format", choices=("jsonl", "csv"), help="default: from the file name")
    start.add_argument("--wait", action="store_true", help="follow its progress until it finishes")
    start.add_argument("--interval", type=float, default=2.0, help="seconds between polls (default 2)")
    _command(imports, "get", get_job, "one import job", "job_id").set_defaults(kind="imports")
    _command(imports, "list", list_jobs, "a project's import jobs", "project_id").set_defaults(kind="imports")
    follow = _command(imports, "wait", wait_job, "follow an import job until it finishes", "job_id")
    follow.set_defaults(kind="imports")
    follow.add_argument("--interval", type=float, default=2.0, help="seconds between polls (default 2)")


def _command(group: Any, name: str, handler: Any, doc: str, id_name: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = group.add_parser(name, help=doc, description=doc)
    parser.add_argument(id_name, type=int)
    parser.set_defaults(handler=handler)
    return parser


def _options(pairs: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            raise UsageError(f"--option {pair!r}: write NAME=VALUE")
        try:
            options[name] = json.loads(value)  # numbers as numbers; anything else as the text given
        except ValueError:
            options[name] = value
    return options


def create_export(context: Context, args: argparse.Namespace) -> int:
    if args.output and not args.wait:
        raise UsageError("--output needs --wait (or run `labelctl exports download` when the job is done)")
    with context.client() as client:
        job = client.exports.create(args.project_id, format=args.format, **_options(args.option))
        if args.wait:
            job = _follow(context, client.exports, job, args.interval)
            if args.output:
                _download(context, client, job["id"], args.output)
    context.out.object(job)
    return 0


def create_import(context: Context, args: argparse.Namespace) -> int:
    if (args.file is None) == (args.url is None):
        raise UsageError("give a file to upload or --url, one of them")
    with context.client() as client:
        if args.url:
            job = client.imports.from_url(args.project_id, args.url, format=args.format)
        else:
            job = client.imports.upload(args.project_id, args.file, format=args.format)
        if args.wait:
            job = _follow(context, client.imports, job, args.interval)
    context.out.object(job)
    return 0


def get_job(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        context.out.object(getattr(client, args.kind).get(args.job_id))
    return 0


def list_jobs(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        context.out.rows(getattr(client, args.kind).list(args.project_id), JOB_COLUMNS)
    return 0


def wait_job(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        jobs = getattr(client, args.kind)
        context.out.object(_follow(context, jobs, jobs.get(args.job_id), args.interval))
    return 0


def download_export(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        path = _download(context, client, args.job_id, args.output)
    context.out.object({"export_id": args.job_id, "path": str(path), "bytes": path.stat().st_size})
    return 0


def _follow(context: Context, jobs: Any, job: dict[str, Any], interval: float) -> dict[str, Any]:
    """Poll the job with a progress bar on stderr; a failed job raises JobFailed (the CLI prints it)."""
    bar = context.out.bar(f"{jobs.kind} {job['id']}", 100.0)

    def shown(current: dict[str, Any]) -> None:
        eta = current.get("eta_s")
        detail = f"{current.get('rows_done', 0):,} rows" + (f", about {eta:.0f}s left" if eta is not None else "")
        bar.update(float(current.get("percent") or 0.0), detail)

    done = jobs.wait(job["id"], interval=interval, on_progress=shown)
    bar.finish(float(done.get("percent") or 100.0), f"{done.get('rows_done', 0):,} rows, {done['status']}")
    return done


def _download(context: Context, client: Any, export_id: int, output: str) -> Path:
    bar = context.out.bar(f"download {export_id}") if context.out.stderr.isatty() else None
    path = client.exports.download(export_id, output,
                                   on_bytes=(lambda done, total: bar.update(done)) if bar is not None else None)
    if bar is not None:
        bar.finish(path.stat().st_size)
    return path
