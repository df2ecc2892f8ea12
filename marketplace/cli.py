"""Flask CLI commands of the app (`flask accounts ...`)."""
from flask import Flask


def register(app: Flask) -> None:
    """Attach the app's command groups."""
    from marketplace.accounts.cli import group as accounts

    app.cli.add_command(accounts)
