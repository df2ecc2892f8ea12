"""`labelctl webhooks ...`: create, list, get, delete, rotate-secret, test, deliveries."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from labelctl.webhooks import EVENTS

if TYPE_CHECKING:
    from labelctl.cli.app import Context

COLUMNS = ("id", "url", "events", "project_id", "active", "secret_prefix")
DELIVERY_COLUMNS = ("id", "event", "status", "attempt_count", "last_status_code", "created_at")


def add_commands(commands: Any) -> None:
    group = commands.add_parser("webhooks", help="signed webhooks to your servers").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    create = group.add_parser("create", help="register an endpoint; prints its signing secret once")
    create.add_argument("--url", required=True, help="https URL on a public address")
    create.add_argument("--event", action="append", required=True, choices=EVENTS, dest="events",
                        help="an event to send (repeat for several)")
    create.add_argument("--project", type=int, help="only this project's events (default: all your projects)")
    create.add_argument("--description", default="")
    create.add_argument("--idempotency-key")
    create.set_defaults(handler=create_endpoint)
    listing = group.add_parser("list", help="your endpoints")
    listing.add_argument("--project", type=int)
    listing.set_defaults(handler=list_endpoints)
    for name, handler, doc in (("get", get_endpoint, "one endpoint"), ("delete", delete_endpoint, "delete an endpoint"),
                               ("test", test_endpoint, "send a ping event now"),
                               ("deliveries", list_deliveries, "an endpoint's deliveries, newest first")):
        command = group.add_parser(name, help=doc)
        command.add_argument("endpoint_id", type=int)
        command.set_defaults(handler=handler)
    rotate = group.add_parser("rotate-secret", help="a new signing secret, printed once")
    rotate.add_argument("endpoint_id", type=int)
    rotate.add_argument("--previous-valid-for", type=int, metavar="SECONDS",
                        help="how long the old secret keeps signing too (default: a day)")
    rotate.set_defaults(handler=rotate_secret)


def create_endpoint(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        context.out.object(client.webhooks.create(args.url, args.events, project_id=args.project,
                                                  description=args.description, idempotency_key=args.idempotency_key))
    return 0


def list_endpoints(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        context.out.rows(client.webhooks.list(project_id=args.project), COLUMNS)
    return 0


def get_endpoint(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        context.out.object(client.webhooks.get(args.endpoint_id))
    return 0


def delete_endpoint(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        client.webhooks.delete(args.endpoint_id)
    context.out.object({"id": args.endpoint_id, "deleted": True})
    return 0


def test_endpoint(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        context.out.object(client.webhooks.test(args.endpoint_id))
    return 0


def list_deliveries(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        context.out.rows(client.webhooks.deliveries(args.endpoint_id), DELIVERY_COLUMNS)
    return 0


def rotate_secret(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        context.out.object(client.webhooks.rotate_secret(args.endpoint_id,
                                                         previous_valid_for_s=args.previous_valid_for))
    return 0
