"""Is the database's schema the one this code expects? Alembic's revision in the database vs the code's head.

Why in the health report: migrations are a release step (`flask db upgrade`), never run at start-up,
so a deploy that skipped it starts code against an older schema, which fails later, on the first
request that touches a new column. The report says so at once and the probe turns red (503).

States: `current` (at the head), `behind` (a revision of these scripts older than the head, or no
revision at all: never migrated), `ahead` (a revision these scripts do not know: a newer release
already migrated, as in a rolling deploy; healthy, since migrations add before they remove).
The scripts (alembic's ScriptDirectory over MIGRATIONS_DIR) are read once per process: they do not
change under a running process.
"""
from functools import lru_cache

from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import text

from marketplace.extensions import db


@lru_cache(maxsize=4)
def code_revisions(directory: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """(head revisions, every revision) of the migration scripts in a directory."""
    config = AlembicConfig()
    config.set_main_option("script_location", directory)
    scripts = ScriptDirectory.from_config(config)
    return tuple(sorted(scripts.get_heads())), frozenset(script.revision for script in scripts.walk_revisions())


def database_revisions() -> tuple[str, ...]:
    """The revision(s) alembic_version records (raises when the table is missing: never migrated)."""
    return tuple(sorted(db.session.scalars(text("SELECT version_num FROM alembic_version"))))


def report() -> dict:
    """{revision, head, state, ok}: ok at the head or ahead of it; with `error` when unreadable."""
    heads, known = code_revisions(current_app.config["MIGRATIONS_DIR"])
    head = ",".join(heads)
    try:
        found = database_revisions()
    except Exception as exc:  # a missing table (never migrated) or a database down: a finding, not a crash
        db.session.rollback()
        return {"revision": None, "head": head, "state": "unknown", "ok": False, "error": type(exc).__name__}
    if found == heads:
        state = "current"
    elif found and not set(found) <= known:
        state = "ahead"
    else:
        state = "behind"
    return {"revision": ",".join(found) or None, "head": head, "state": state, "ok": state != "behind"}
