"""`flask accounts create-admin`."""
import click
from flask.cli import AppGroup

from marketplace.accounts import services
from marketplace.accounts.models import ADMIN
from marketplace.db import transaction
from marketplace.errors import DomainError

group = AppGroup("accounts", help="Manage accounts.")


@group.command("create-admin")
@click.option("--email", required=True)
@click.password_option("--password", help="at least 10 characters")
def create_admin(email: str, password: str) -> None:
    """Create an admin account (admins cannot be created through the API)."""
    if len(password) < 10:
        raise click.BadParameter("must be at least 10 characters", param_hint="--password")
    try:
        with transaction():
            account = services.register(email=email, password=password, role=ADMIN)
    except DomainError as exc:
        raise click.ClickException(exc.message)
    click.echo(f"admin {account.email} created with id {account.id}")
