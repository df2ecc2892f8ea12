"""Health: is the database reachable and migrated to the code's head, is the queue reachable, are jobs moving.

`status` is ok, degraded or down (marketplace/operations/services.py). Only down is a 503: a load
balancer should stop sending requests when the database or the schema fails, not when Redis or the
scheduler does, since leases and answers are still served then (their jobs wait in the database for
the sweeps).
"""
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import text

from marketplace import queue
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.health import revision
from marketplace.operations import services as operations

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
    status = fields.String(metadata={"description": "ok; degraded (requests are served, background work is not "
                                                   "moving: queue down, scheduler not seen, jobs overdue or failed); "
                                                   "down (no database, or the schema is not the code's: 503)"})
    database = fields.Dict()
    schema = fields.Nested(SchemaRevisionOut, metadata={"description": "down when behind: run `flask db upgrade`"})
    queue = fields.Dict()
    jobs = fields.Dict(metadata={"description": "with Redis: cron_seen_at, cron_seen, overdue (periodic job names), "
                                                "failed (jobs that failed every retry: GET /admin/jobs)"})


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
    @bp.alt_response(503, schema=HealthOut, description="down: the database is unreachable or the schema is not at the head")
    @bp.doc(security=[])
    def get(self):
        """Report database, schema revision, queue and jobs: ok, degraded, or down (503)."""
        report = {"database": _database(), "schema": revision.report(), "queue": queue.status()}
        failing = [name for name in ("database", "schema", "queue") if not report[name]["ok"]]
        report["jobs"] = ({"ok": False, "error": f"not checked: {failing[0]} not ok"} if failing
                          else operations.jobs_report(now=utcnow()))
        report["status"] = operations.level(database_ok=report["database"]["ok"], schema_ok=report["schema"]["ok"],
                                            queue_ok=report["queue"]["ok"], jobs_ok=report["jobs"]["ok"])
        return report, (503 if report["status"] == operations.DOWN else 200)
