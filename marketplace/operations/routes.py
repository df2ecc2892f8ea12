"""Admins: the background jobs (periodic ones and those that failed every retry), and retrying them."""
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts.auth import current_account, requires
from marketplace.accounts.models import ADMIN
from marketplace.audit.services import audit
from marketplace.db import transaction, utcnow
from marketplace.idempotency.keys import idempotent
from marketplace.operations import schemas, services

bp = Blueprint("operations", __name__, description="Background jobs, for operators")

# Audit rows name a table row; a job is named in the details instead.
NO_ROW = 0


@bp.route("/admin/jobs")
class Jobs(MethodView):
    @requires(ADMIN)
    @bp.response(200, schemas.JobsOut)
    def get(self):
        """List the periodic jobs (last start, finish, failure; overdue or not) and the jobs that failed for good."""
        return {"periodic": services.periodic_jobs(now=utcnow()), "failed": services.failed_jobs()}


@bp.route("/admin/jobs/failed/<string:job_id>/retry")
class RetryFailedJob(MethodView):
    @requires(ADMIN)
    @idempotent
    @bp.arguments(schemas.JobActionIn)
    @bp.response(200, schemas.JobActionOut)
    def post(self, body, job_id):
        """Put a job that failed every retry back on its queue, with a reason (audited)."""
        with transaction():
            found = services.find_failed(job_id)
            audit(admin_id=current_account().id, action="job.retry", target=("job", NO_ROW), reason=body["reason"],
                  now=utcnow(), details=found)
            return services.retry_failed(found)  # a 404 here (retried a moment ago) rolls the audit row back


@bp.route("/admin/jobs/periodic/<string:name>/run")
class RunPeriodicJob(MethodView):
    @requires(ADMIN)
    @idempotent
    @bp.arguments(schemas.JobActionIn)
    @bp.response(202, schemas.JobActionOut)
    def post(self, body, name):
        """Run a periodic job now (a sweep that finds lost work, a payout run...), with a reason (audited)."""
        with transaction():
            sent = services.run_now(name)  # sent once this commits
            audit(admin_id=current_account().id, action="job.run", target=("job", NO_ROW), reason=body["reason"],
                  now=utcnow(), details=sent)
            return sent
