"""Health: is the database reachable and migrated to the code's head, is the queue reachable."""
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import text

from marketplace import queue
from marketplace.extensions import db
from marketplace.health import revision

bp = Blueprint("health", __name__, description="Service health")


class SchemaRevisionOut(Schema):
    revision = fields.String(allow_none=True, metadata={"description": "the database's alembic revision; null when "
                                                                       "it was never migrated or cannot be read"})
    head = fields.String(metadata={"description": "the head revision of the code's migrations"})
    state = fields.String(metadata={"description": "current, behind (or never migrated: run `flask db upgrade`), "
                                                   "ahead (a newer release migrated it) or unknown"})
    ok = fields.Boolean(metadata={"description": "current or ahead"})
    error = fields.String(metadata={"description": "why the revision could not be read", "optional": True})


class HealthOut(Schema):
    status = fields.String(metadata={"description": "ok or degraded"})
    database = fields.Dict()
    schema = fields.Nested(SchemaRevisionOut, metadata={"description": "degraded when behind: run `flask db upgrade`"})
    queue = fields.Dict()


def _database() -> dict:
    try:
        db.session.execute(text("SELECT 1"))
        return {"backend": db.engine.dialect.name, "ok": True}
    except Exception as exc:  # a health report, not a crash
        db.session.rollback()
        return {"backend": db.engine.dialect.name, "ok": False, "error": type(exc).__name__}


@bp.route("/health")
class Health(MethodView):
    @bp.response(200, HealthOut)
    @bp.alt_response(503, schema=HealthOut, description="a dependency is down or the schema is not at the head")
    @bp.doc(security=[])
    def get(self):
        """Report database, schema revision and queue status (503 when one is down or the schema is behind)."""
        report = {"database": _database(), "schema": revision.report(), "queue": queue.status()}
        ok = report["database"]["ok"] and report["schema"]["ok"] and report["queue"]["ok"]
        report["status"] = "ok" if ok else "degraded"
        return report, (200 if ok else 503)
