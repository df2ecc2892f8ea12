"""Experiments: A/B arms inside a project, their figures and the verdict."""
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts.auth import current_account, requires
from marketplace.accounts.models import ADMIN, REQUESTER
from marketplace.db import transaction, utcnow
from marketplace.experiments import report, schemas, services
from marketplace.idempotency.keys import idempotent
from marketplace.pagination import page_of
from marketplace.projects import services as projects

bp = Blueprint("experiments", __name__, description="A/B experiments inside a project")


@bp.route("/projects/<int:project_id>/experiments")
class Experiments(MethodView):
    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.arguments(schemas.ExperimentIn)
    @bp.response(201, schemas.ExperimentOut)
    def post(self, body, project_id):
        """Start an experiment: arms differing in guidelines, reward, qualification or redundancy."""
        account, now = current_account(), utcnow()
        with transaction():
            project = projects.owned(account=account, project_id=project_id, lock=True)
            experiment = services.start(account=account, project=project, now=now, **body)
            return report.report(project=project, experiment=experiment, now=now)

    @requires(REQUESTER, ADMIN)
    @bp.arguments(schemas.ExperimentListArgs, location="query")
    @bp.response(200, schemas.ExperimentPageOut)
    def get(self, args, project_id):
        """A project's experiments with their figures, newest first."""
        project, now = projects.owned(account=current_account(), project_id=project_id), utcnow()
        rows = services.listing(project=project, **args)
        return page_of([report.report(project=project, experiment=e, now=now) for e in rows], args["limit"],
                       key=lambda e: e["id"])


@bp.route("/projects/<int:project_id>/experiments/<int:experiment_id>")
class OneExperiment(MethodView):
    @requires(REQUESTER, ADMIN)
    @bp.response(200, schemas.ExperimentOut)
    def get(self, project_id, experiment_id):
        """One experiment: per arm gold accuracy (with interval), agreement, cost, throughput; the verdict."""
        project = projects.owned(account=current_account(), project_id=project_id)
        experiment = services.of_project(project=project, experiment_id=experiment_id)
        return report.report(project=project, experiment=experiment, now=utcnow())


@bp.route("/projects/<int:project_id>/experiments/<int:experiment_id>/stop")
class StopExperiment(MethodView):
    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.response(200, schemas.ExperimentOut)
    def post(self, project_id, experiment_id):
        """Stop an experiment: new leases get the project's own terms again (answers keep theirs)."""
        account, now = current_account(), utcnow()
        with transaction():
            project = projects.owned(account=account, project_id=project_id, lock=True)
            experiment = services.stop(experiment=services.of_project(project=project, experiment_id=experiment_id),
                                       project=project, now=now)
            return report.report(project=project, experiment=experiment, now=now)
