"""Flask CLI commands of the app (`flask accounts ...`)."""
from flask import Flask

from marketplace.accounts.cli import group as accounts


def register(app: Flask) -> None:
    """Attach the app's command groups."""
    app.cli.add_command(accounts)
