"""Project endpoints for requesters (own), annotators (the open marketplace) and admins (all)."""
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts.auth import current_account, requires
from marketplace.accounts.models import ADMIN, ANNOTATOR, REQUESTER, ROLES
from marketplace.db import transaction, utcnow
from marketplace.pagination import page_of
from marketplace.projects import guidelines, schemas, services

bp = Blueprint("projects", __name__, description="Labeling projects and the marketplace listing")


def _for_caller(project):
    if current_account().role == ANNOTATOR:
        return {name: getattr(project, name) for name in schemas.LISTING_FIELDS}
    return project


@bp.route("/projects")
class Projects(MethodView):
    @requires(*ROLES)
    @bp.arguments(schemas.ProjectListArgs, location="query")
    @bp.response(200, schemas.ProjectPageOut)
    def get(self, args):
        """List projects: yours (requester), those open to you (annotator), all (admin)."""
        items = services.listing(account=current_account(), now=utcnow(), **args)
        page = page_of(items, args["limit"])
        return {**page, "items": [_for_caller(p) for p in page["items"]]}

    @requires(REQUESTER)
    @bp.arguments(schemas.ProjectIn)
    @bp.response(201, schemas.ProjectOut)
    def post(self, fields):
        """Create a draft project."""
        with transaction():
            return services.create(requester=current_account(), fields=fields)


@bp.route("/projects/<int:project_id>")
class ProjectItem(MethodView):
    @requires(*ROLES)
    @bp.response(200, schemas.ProjectOut)
    def get(self, project_id):
        """Read a project."""
        return _for_caller(services.visible_to(account=current_account(), project_id=project_id))

    @requires(REQUESTER, ADMIN)
    @bp.arguments(schemas.ProjectPatch)
    @bp.response(200, schemas.ProjectOut)
    def patch(self, fields, project_id):
        """Change a draft project."""
        with transaction():
            return services.update(account=current_account(), project_id=project_id, fields=fields)


def _transition_view(action: str, doc: str):
    @requires(REQUESTER, ADMIN)
    @bp.response(200, schemas.ProjectOut)
    def post(self, project_id):
        with transaction():
            return services.transition(account=current_account(), project_id=project_id, action=action, now=utcnow())

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
    @bp.response(200, schemas.GuidelineListOut)
    def get(self, project_id):
        """List the versions of a project's instructions, newest first."""
        return {"items": guidelines.versions(account=current_account(), project_id=project_id)}

    @requires(REQUESTER, ADMIN)
    @bp.arguments(schemas.GuidelineIn)
    @bp.response(201, schemas.GuidelineOut)
    def post(self, body, project_id):
        """Publish a new version of the instructions (a major one may require re-qualification and reopen tasks)."""
        with transaction():
            return guidelines.publish(account=current_account(), project_id=project_id, now=utcnow(), **body)
