"""Project endpoints for requesters (own), annotators (the open marketplace) and admins (all)."""
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts.auth import current_account, requires
from marketplace.accounts.models import ADMIN, ANNOTATOR, REQUESTER, ROLES
from marketplace.db import transaction, utcnow
from marketplace.pagination import PageArgs, page_of
from marketplace.payments import escrow, idempotency
from marketplace.payments.schemas import EscrowOut, TopUpIn
from marketplace.projects import guidelines, schemas, services
from marketplace.quality import eligibility
from marketplace.idempotency.keys import idempotent

bp = Blueprint("projects", __name__, description="Labeling projects and the marketplace listing")


def _for_caller(projects: list) -> list:
    """What the caller may see of some projects: the listing fields (annotator), or all with their escrow."""
    if current_account().role == ANNOTATOR:
        return [{name: getattr(p, name) for name in schemas.LISTING_FIELDS} for p in projects]
    states = escrow.states(projects)
    for project in projects:
        project.escrow_state = states[project.id]  # read by ProjectOut; not a column
    return projects


def _one(project):
    return _for_caller([project])[0]


@bp.route("/projects")
class Projects(MethodView):
    @requires(*ROLES)
    @bp.arguments(schemas.ProjectListArgs, location="query")
    @bp.response(200, schemas.ProjectPageOut)
    def get(self, args):
        """List projects: yours (requester), those open to you (annotator), all (admin)."""
        account = current_account()
        if account.role == ANNOTATOR:
            items = eligibility.open_projects(annotator=account, now=utcnow(), **args)
        else:
            items = services.listing(account=account, **args)
        page = page_of(items, args["limit"])
        return {**page, "items": _for_caller(page["items"])}

    @requires(REQUESTER)
    @idempotent
    @bp.arguments(schemas.ProjectIn)
    @bp.response(201, schemas.ProjectOut)
    def post(self, fields):
        """Create a draft project."""
        with transaction():
            return _one(services.create(requester=current_account(), fields=fields))


@bp.route("/projects/<int:project_id>")
class ProjectItem(MethodView):
    @requires(*ROLES)
    @bp.response(200, schemas.ProjectOut)
    def get(self, project_id):
        """Read a project."""
        return _one(services.visible_to(account=current_account(), project_id=project_id))

    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.arguments(schemas.ProjectPatch)
    @bp.response(200, schemas.ProjectOut)
    def patch(self, fields, project_id):
        """Change a draft project."""
        with transaction():
            return _one(services.update(account=current_account(), project_id=project_id, fields=fields))


def _transition_view(action: str, doc: str):
    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.response(200, schemas.ProjectOut)
    def post(self, project_id):
        with transaction():
            return _one(services.transition(account=current_account(), project_id=project_id, action=action,
                                            now=utcnow()))

    post.__doc__ = doc
    return type(f"Project{action.title()}", (MethodView,), {"post": post})


for _action, _doc in (
    ("publish", "Publish a draft project to the marketplace."),
    ("pause", "Stop handing out tasks for a while."),
    ("resume", "Hand out tasks again after a pause."),
    ("close", "Close a project for good; no more leases or answers."),
):
    bp.route(f"/projects/<int:project_id>/{_action}")(_transition_view(_action, _doc))


@bp.route("/projects/<int:project_id>/guidelines")
class ProjectGuidelines(MethodView):
    @requires(*ROLES)
    @bp.arguments(PageArgs, location="query")
    @bp.response(200, schemas.GuidelineListOut)
    def get(self, args, project_id):
        """List the versions of a project's instructions, newest first."""
        return page_of(guidelines.versions(account=current_account(), project_id=project_id, **args), args["limit"],
                       key=lambda guideline: guideline.version)

    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.arguments(schemas.GuidelineIn)
    @bp.response(201, schemas.GuidelineOut)
    def post(self, body, project_id):
        """Publish a new version of the instructions (a major one may require re-qualification and reopen tasks)."""
        with transaction():
            return guidelines.publish(account=current_account(), project_id=project_id, now=utcnow(), **body)


@bp.route("/projects/<int:project_id>/escrow")
class ProjectEscrow(MethodView):
    @requires(REQUESTER, ADMIN)
    @bp.response(200, EscrowOut)
    def get(self, project_id):
        """Read a project's escrow: balance, reserved, free, and what one answer costs."""
        return services.escrow_state(account=current_account(), project_id=project_id)

    @requires(REQUESTER)
    @idempotent
    @bp.arguments(TopUpIn)
    @bp.response(200, EscrowOut)
    def post(self, body, project_id):
        """Top up a project's escrow from your available balance (no amount: up to the worst case; Idempotency-Key accepted)."""
        key = idempotency.key_from_request(required=False)
        with transaction():
            return services.top_up(account=current_account(), project_id=project_id, amount_cents=body["amount_cents"],
                                  now=utcnow(), key=key)
