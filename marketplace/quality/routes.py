"""Trust for annotators, quality statistics for requesters, suspensions and skills for admins."""
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts.auth import current_account, requires
from marketplace.accounts.models import ADMIN, ANNOTATOR, REQUESTER
from marketplace.db import transaction, utcnow
from marketplace.projects import services as projects
from marketplace.pagination import PageArgs, page_of
from marketplace.quality import admin, reports, schemas
from marketplace.idempotency.keys import idempotent

bp = Blueprint("quality", __name__, description="Trust, quality statistics, suspensions and skills")


@bp.route("/me/trust")
class MyTrust(MethodView):
    @requires(ANNOTATOR)
    @bp.response(200, schemas.MyTrustOut)
    def get(self):
        """Read your reputation, your trust per project and the actions taken on your work."""
        return reports.my_trust(annotator=current_account(), now=utcnow())


@bp.route("/me/missed-gold")
class MyMissedGold(MethodView):
    @requires(ANNOTATOR)
    @bp.arguments(schemas.MissedGoldArgs, location="query")
    @bp.response(200, schemas.MissedGoldListOut)
    def get(self, args):
        """Read the known-answer tasks you missed, with the expected answer and explanation."""
        return page_of(reports.missed_gold(annotator=current_account(), **args), args["limit"],
                       key=lambda row: row["assignment_id"])


@bp.route("/me/skills")
class MySkills(MethodView):
    @requires(ANNOTATOR)
    @bp.arguments(PageArgs, location="query")
    @bp.response(200, schemas.SkillListOut)
    def get(self, args):
        """Read your verified skills."""
        return page_of(admin.skills_of(annotator_id=current_account().id, **args), args["limit"])


@bp.route("/projects/<int:project_id>/annotators")
class ProjectAnnotators(MethodView):
    @requires(REQUESTER, ADMIN)
    @bp.arguments(PageArgs, location="query")
    @bp.response(200, schemas.AnnotatorStatsListOut)
    def get(self, args, project_id):
        """Per-annotator statistics of your project, under pseudonyms (paged by position)."""
        project = projects.owned(account=current_account(), project_id=project_id)
        rows = reports.project_annotators(project=project, **args)
        page = page_of(rows, args["limit"], key=lambda row: None)
        page["next_cursor"] = (args["cursor"] or 0) + args["limit"] if page["has_more"] else None
        return page


@bp.route("/projects/<int:project_id>/stats")
class ProjectStats(MethodView):
    @requires(REQUESTER, ADMIN)
    @bp.response(200, schemas.ProjectStatsOut)
    def get(self, project_id):
        """Agreement, gold accuracy distribution and blocked annotators of your project."""
        return reports.project_stats(project=projects.owned(account=current_account(), project_id=project_id))


def _status_view(suspended: bool, doc: str):
    @requires(ADMIN)
    @idempotent
    @bp.arguments(schemas.ReasonIn)
    @bp.response(200, schemas.AccountStatusOut)
    def post(self, body, account_id):
        with transaction():
            return admin.set_suspended(admin=current_account(), account_id=account_id, suspended=suspended,
                                       reason=body["reason"], now=utcnow())

    post.__doc__ = doc
    return type("Suspend" if suspended else "Reinstate", (MethodView,), {"post": post})


bp.route("/admin/accounts/<int:account_id>/suspend")(_status_view(True, "Suspend an account everywhere, with a reason."))
bp.route("/admin/accounts/<int:account_id>/reinstate")(_status_view(False, "Reinstate a suspended account."))


@bp.route("/admin/accounts/<int:account_id>/skills")
class AnnotatorSkills(MethodView):
    @requires(ADMIN)
    @bp.arguments(PageArgs, location="query")
    @bp.response(200, schemas.SkillListOut)
    def get(self, args, account_id):
        """List an annotator's verified skills."""
        return page_of(admin.skills_of(annotator_id=account_id, **args), args["limit"])

    @requires(ADMIN)
    @idempotent
    @bp.arguments(schemas.SkillIn)
    @bp.response(201, schemas.SkillOut)
    def post(self, body, account_id):
        """Verify a skill of an annotator."""
        with transaction():
            return admin.verify_skill(admin=current_account(), annotator_id=account_id, name=body["name"], now=utcnow())


@bp.route("/admin/accounts/<int:account_id>/skills/<string:name>")
class AnnotatorSkill(MethodView):
    @requires(ADMIN)
    @idempotent
    @bp.response(204)
    def delete(self, account_id, name):
        """Withdraw a verified skill."""
        with transaction():
            admin.remove_skill(admin=current_account(), annotator_id=account_id, name=name, now=utcnow())
