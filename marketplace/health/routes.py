"""Health: is the database reachable, is the queue reachable."""
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import text

from marketplace import queue
from marketplace.extensions import db

bp = Blueprint("health", __name__, description="Service health")


class HealthOut(Schema):
    status = fields.String(metadata={"description": "ok or degraded"})
    database = fields.Dict()
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
    @bp.alt_response(503, schema=HealthOut, description="a dependency is down")
    @bp.doc(security=[])
    def get(self):
        """Report database and queue status (503 when either is down)."""
        report = {"database": _database(), "queue": queue.status()}
        ok = report["database"]["ok"] and report["queue"]["ok"]
        report["status"] = "ok" if ok else "degraded"
        return report, (200 if ok else 503)
