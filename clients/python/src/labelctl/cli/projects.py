"""`labelctl projects ...`: create, list, get, update, import, fund, publish/pause/resume/close,
status (--watch), tasks, results, export, recompute."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labelctl.cli.config import UsageError
from labelctl.cli.output import size
from labelctl.errors import LabelctlError
from labelctl.importing import ImportProgress
from labelctl.results import EXPORT_FORMATS
from labelctl.tasks import MAX_TASKS_PER_IMPORT

if TYPE_CHECKING:
    from labelctl.cli.app import Context

LIST_COLUMNS = ("id", "name", "status", "task_count", "closed_task_count", "reward_cents", "currency")
RESULT_COLUMNS = ("task_id", "external_id", "label", "confidence", "answer_count", "method")
TASK_COLUMNS = ("id", "external_id", "status", "answer_count")
DUPLICATES_SHOWN = 20


def add_commands(commands: Any) -> None:
    group = commands.add_parser("projects", help="labeling projects").add_subparsers(
        dest="action", metavar="ACTION", required=True)

    def command(name: str, handler: Any, doc: str, project: bool = True) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = group.add_parser(name, help=doc, description=doc)
        if project:
            parser.add_argument("project_id", type=int)
        parser.set_defaults(handler=handler)
        return parser

    create = command("create", create_project, "create a draft project from a JSON file of its fields", project=False)
    create.add_argument("--file", "-f", required=True, help="project.json ('-': stdin)")
    create.add_argument("--idempotency-key", help="reuse to make a retried create safe (default: a new one)")
    listing = command("list", list_projects, "your projects", project=False)
    listing.add_argument("--status", choices=("draft", "open", "paused", "completed", "closed"))
    command("get", get_project, "one project")
    update = command("update", update_project, "change a draft project's fields from a JSON file")
    update.add_argument("--file", "-f", required=True, help="changes.json ('-': stdin)")

    imports = command("import", import_tasks, "import tasks from a .jsonl, .csv or .json file (streamed, in batches)")
    imports.add_argument("file", type=Path)
    imports.add_argument("--format", choices=("jsonl", "csv", "json"), help="default: from the file name")
    imports.add_argument("--batch-size", type=int, default=MAX_TASKS_PER_IMPORT, help="rows per request (max 10000)")
    imports.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")

    fund = command("fund", fund_project, "add money: a funding to your balance, then into the escrow if published")
    fund.add_argument("--cents", type=int, required=True, help="amount in cents of the project's currency")
    fund.add_argument("--idempotency-key", help="reuse to make a retried funding safe (default: a new one)")
    for action in ("publish", "pause", "resume", "close"):
        command(action, transition, f"{action} the project").set_defaults(transition=action)

    status = command("status", project_status, "progress: tasks closed, crowd agreement, escrow")
    status.add_argument("--watch", action="store_true", help="poll until the project completes or is closed")
    status.add_argument("--interval", type=float, default=5.0, help="seconds between polls (default 5)")
    status.add_argument("--timeout", type=float, help="stop watching after this many seconds")

    tasks = command("tasks", list_tasks, "the project's tasks (JSON Lines)")
    tasks.add_argument("--status", choices=("open", "closed", "gold"))
    results = command("results", list_results, "the project's results with their answers (JSON Lines)")
    results.add_argument("--page-size", type=int, default=500)
    export = command("export", export_results, "download the results export")
    export.add_argument("--format", choices=EXPORT_FORMATS, default="jsonl")
    export.add_argument("--output", "-o", help="file to write (default: stdout)")
    command("recompute", recompute, "queue a recompute of the truth model and results")
    report = command("report", project_report, "the quality report: an HTML page to open, or its figures as JSON")
    report.add_argument("--output", "-o", help="file to write the page to (default: stdout)")
    report.add_argument("--json", action="store_true", help="the figures as JSON instead of the page")
    command("forecast", project_forecast, "when the project will finish and what it will cost, with 90% intervals")


def _json_file(context: Context, name: str) -> dict[str, Any]:
    try:
        text = context.stdin.read() if name == "-" else Path(name).read_text()
        found = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{name}: not valid JSON ({exc})") from None
    if not isinstance(found, dict):
        raise UsageError(f"{name}: must hold a JSON object of project fields")
    return found


def create_project(context: Context, args: argparse.Namespace) -> int:
    fields = _json_file(context, args.file)
    with context.client() as client:
        context.out.object(client.projects.create(fields, idempotency_key=args.idempotency_key))
    return 0


def list_projects(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        context.out.rows(client.projects.list(status=args.status), LIST_COLUMNS)
    return 0


def get_project(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        context.out.object(client.projects.get(args.project_id))
    return 0


def update_project(context: Context, args: argparse.Namespace) -> int:
    changes = _json_file(context, args.file)
    with context.client() as client:
        context.out.object(client.projects.update(args.project_id, changes))
    return 0


def import_tasks(context: Context, args: argparse.Namespace) -> int:
    if not 1 <= args.batch_size <= MAX_TASKS_PER_IMPORT:
        raise UsageError(f"--batch-size must be between 1 and {MAX_TASKS_PER_IMPORT}")
    bar = None if args.no_progress else context.out.bar(f"import {args.file.name}", args.file.stat().st_size)

    def shown(progress: ImportProgress) -> None:
        if bar is not None:
            bar.update(progress.bytes_read, _import_detail(progress))

    with context.client() as client:
        try:
            done = client.tasks.import_file(args.project_id, args.file, format=args.format,
                                            batch_size=args.batch_size, on_progress=shown)
        except LabelctlError as exc:
            if exc.progress is not None and exc.progress.batches:
                context.out.note(f"{exc.progress.rows_sent:,} rows went in ({exc.progress.created:,} new) before the "
                                 "error; once it is fixed, import the whole file again: rows already in are skipped")
            raise
    if bar is not None:
        bar.finish(done.bytes_read, _import_detail(done))
    context.out.object({"project_id": args.project_id, "created": done.created, "duplicate_count": done.duplicate_count,
                        "duplicates_sample": done.duplicates[:DUPLICATES_SHOWN], "task_count": done.task_count, "rows": done.rows_sent,
                        "batches": done.batches})
    return 0


def _import_detail(progress: ImportProgress) -> str:
    return (f"{progress.rows_sent:,} rows  {progress.created:,} new  {progress.duplicate_count:,} duplicates  "
            f"{progress.batches} batches  {size(progress.bytes_read)}")


def fund_project(context: Context, args: argparse.Namespace) -> int:
    if args.cents <= 0:
        raise UsageError("--cents must be positive")
    with context.client() as client:
        funding, escrow = client.projects.fund(args.project_id, args.cents, idempotency_key=args.idempotency_key)
    if funding.get("status") != "succeeded":
        context.out.note(f"funding {funding.get('id')} is {funding.get('status')}: confirm the payment with its "
                         "client_secret (Stripe); the balance is credited when Stripe says it succeeded")
    elif escrow is None:
        context.out.note("the money is in your balance; publishing moves the project's worst-case cost into escrow")
    context.out.object({"funding": funding, "escrow": escrow})
    return 0


def transition(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        project = getattr(client.projects, args.transition)(args.project_id)
    context.out.object(project)
    return 0


def project_status(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        if not args.watch:
            context.out.object(client.projects.progress(args.project_id).as_dict())
            return 0
        bar = context.out.bar(f"project {args.project_id}", 1.0)
        last = None
        for last in client.projects.watch(args.project_id, interval_s=args.interval, timeout_s=args.timeout):
            bar.update(last.fraction, f"{last.closed_tasks:,}/{last.tasks:,} tasks  {last.status}")
        assert last is not None
        bar.finish(last.fraction, f"{last.closed_tasks:,}/{last.tasks:,} tasks  {last.status}")
        if last.status == "draft":
            context.out.note("the project is a draft: publish it to start the work")
        context.out.object(last.as_dict())
    return 0


def list_tasks(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        context.out.rows(client.tasks.list(args.project_id, status=args.status), TASK_COLUMNS)
    return 0


def list_results(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        context.out.rows(client.results.list(args.project_id, page_size=args.page_size), RESULT_COLUMNS)
    return 0


def export_results(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        if not args.output or args.output == "-":
            stream = getattr(context.out.stdout, "buffer", None) or sys.stdout.buffer
            client.results.export(args.project_id, stream, format=args.format)
            stream.flush()
            return 0
        bar = context.out.bar(f"export {args.format}") if context.out.stderr.isatty() else None
        written = client.results.export(args.project_id, args.output, format=args.format,
                                        on_bytes=bar.update if bar is not None else None)
    if bar is not None:
        bar.finish(written)
    context.out.object({"project_id": args.project_id, "format": args.format, "path": args.output, "bytes": written})
    return 0


def recompute(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        context.out.object(client.projects.recompute(args.project_id))
    return 0


def project_forecast(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        context.out.object(client.projects.forecast(args.project_id))
    return 0


def project_report(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        if args.json:
            context.out.object(client.projects.report(args.project_id, format="json"))
            return 0
        page = client.projects.report(args.project_id)
    if not args.output or args.output == "-":
        context.out.stdout.write(page)
        return 0
    Path(args.output).write_text(page, encoding="utf-8")
    context.out.note(f"open {args.output} in a browser (it needs no network: plots are inline SVG)")
    context.out.object({"project_id": args.project_id, "path": args.output, "bytes": len(page.encode())})
    return 0
