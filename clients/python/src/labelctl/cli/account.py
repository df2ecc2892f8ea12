"""Account commands: register, login (saves an API key), whoami, balance, api-keys."""
from __future__ import annotations

import argparse
import getpass
import socket
from typing import TYPE_CHECKING, Any

from labelctl.cli import config
from labelctl.cli.config import UsageError
from labelctl.client import Client

if TYPE_CHECKING:
    from labelctl.cli.app import Context

Commands = Any  # argparse's private _SubParsersAction


def add_commands(commands: Commands) -> None:
    for name, handler, doc in (("register", register, "create a requester account, then log in as `login` does"),
                               ("login", login, "log in and save a new API key for this server")):
        command = commands.add_parser(name, help=doc, description=doc)
        command.add_argument("--email", required=True)
        command.add_argument("--password-stdin", action="store_true",
                             help="read the password from stdin (else LABELCTL_PASSWORD, else a prompt)")
        command.add_argument("--key-name", help="name of the API key (default: labelctl on this host)")
        command.add_argument("--no-save", action="store_true",
                             help="print the new key on stdout instead of saving it to the config file")
        if name == "register":
            command.add_argument("--display-name", default="")
        command.set_defaults(handler=handler)
    commands.add_parser("whoami", help="the account of the API key").set_defaults(handler=whoami)
    commands.add_parser("balance", help="your balances and whether payments are real").set_defaults(handler=balance)

    keys = commands.add_parser("api-keys", help="list, create or revoke API keys").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    keys.add_parser("list", help="your keys (prefixes only)").set_defaults(handler=keys_list)
    create = keys.add_parser("create", help="a new key, printed once")
    create.add_argument("--name", default="")
    create.set_defaults(handler=keys_create)
    revoke = keys.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id", type=int)
    revoke.set_defaults(handler=keys_revoke)


def _password(context: Context, args: argparse.Namespace) -> str:
    if args.password_stdin:
        return context.stdin.readline().rstrip("\r\n")
    if context.environ.get("LABELCTL_PASSWORD"):
        return context.environ["LABELCTL_PASSWORD"]
    if not context.stdin.isatty():
        raise UsageError("no password: pass --password-stdin or set LABELCTL_PASSWORD")
    return getpass.getpass("password: ")


def register(context: Context, args: argparse.Namespace) -> int:
    password = _password(context, args)
    with context.client(authenticated=False) as client:
        account = client.accounts.register(args.email, password, display_name=args.display_name)
        context.out.note(f"registered requester {account.get('email')} (id {account.get('id')})")
        return _login_and_keep_key(context, args, client, password)


def login(context: Context, args: argparse.Namespace) -> int:
    password = _password(context, args)
    with context.client(authenticated=False) as client:
        return _login_and_keep_key(context, args, client, password)


def _login_and_keep_key(context: Context, args: argparse.Namespace, client: Client, password: str) -> int:
    """Log in, create an API key with the token, revoke the token, and save (or print) the key."""
    token = client.login(args.email, password)
    key = client.api_keys.create(args.key_name or f"labelctl on {socket.gethostname()}")
    client.accounts.logout(token["id"])  # the token only served to make the key
    shown: dict[str, Any] = {k: key.get(k) for k in ("id", "name", "prefix", "created_at")}
    if args.no_save:
        shown["key"] = key["key"]
    else:
        config.save(context.settings.path, context.settings.url, key["key"])
        shown["saved_to"] = str(context.settings.path)
    context.out.object(shown)
    return 0


def whoami(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        context.out.object(client.accounts.me())
    return 0


def balance(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        context.out.object(client.payments.balance())
    return 0


def keys_list(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        context.out.rows(client.api_keys.list(), ("id", "name", "prefix", "created_at", "revoked_at"))
    return 0


def keys_create(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        context.out.object(client.api_keys.create(args.name))
    return 0


def keys_revoke(context: Context, args: argparse.Namespace) -> int:
    with context.client() as client:
        context.out.object(client.api_keys.revoke(args.key_id))
    return 0
