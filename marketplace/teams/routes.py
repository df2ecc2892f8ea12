"""Teams: requesters' private workforces and vendors' teams; invites, membership, stats, project targeting."""
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts.auth import current_account, requires
from marketplace.accounts.models import ADMIN, ANNOTATOR, REQUESTER, ROLES, VENDOR
from marketplace.db import transaction, utcnow
from marketplace.idempotency.keys import idempotent
from marketplace.pagination import PageArgs, page_of
from marketplace.projects import services as projects
from marketplace.reports import team_stats
from marketplace.teams import schemas, services, workforce
from marketplace.teams.models import Team

bp = Blueprint("teams", __name__, description="Teams: private and vendor workforces, and who works on a project")


def _shown(team: Team, counts: dict, account) -> dict:
    if team.owner_id == account.id:
        role = "owner"
    else:
        membership = services.current_membership(team.id, account.id)
        role = membership.role if membership is not None else None
    return {"id": team.id, "name": team.name, "kind": team.kind, "created_at": team.created_at,
            "member_count": counts.get(team.id, 0), "my_role": role}


def _one(team: Team, account) -> dict:
    return _shown(team, services.member_counts([team.id]), account)


@bp.route("/teams")
class Teams(MethodView):
    @requires(REQUESTER, VENDOR, ADMIN)
    @idempotent
    @bp.arguments(schemas.TeamIn)
    @bp.response(201, schemas.TeamOut)
    def post(self, body):
        """Make a team: private for a requester, a vendor team for a vendor."""
        account = current_account()
        with transaction():
            return _one(services.create(owner=account, name=body["name"], now=utcnow()), account)

    @requires(*ROLES, VENDOR)
    @bp.arguments(schemas.TeamListArgs, location="query")
    @bp.response(200, schemas.TeamPageOut)
    def get(self, args):
        """Your teams (owned, managed or joined), or with scope=vendors every vendor team, newest first."""
        account = current_account()
        teams = services.listing(account=account, **args)
        counts = services.member_counts([t.id for t in teams])
        return page_of([_shown(t, counts, account) for t in teams], args["limit"], key=lambda t: t["id"])


@bp.route("/teams/<int:team_id>")
class OneTeam(MethodView):
    @requires(*ROLES, VENDOR)
    @bp.response(200, schemas.TeamOut)
    def get(self, team_id):
        """A team you own, manage or belong to (or a vendor team, for requesters)."""
        account = current_account()
        return _one(services.visible(account=account, team_id=team_id), account)


@bp.route("/teams/<int:team_id>/invites")
class Invites(MethodView):
    @requires(REQUESTER, VENDOR, ADMIN)
    @idempotent
    @bp.arguments(schemas.InviteIn)
    @bp.response(201, schemas.InviteOut)
    def post(self, body, team_id):
        """Invite one email address (used once) or make a link (any holder may join until it expires)."""
        with transaction():
            invite, token = services.invite(account=current_account(), team_id=team_id, now=utcnow(), **body)
            return {**_invite(invite), "token": token}

    @requires(REQUESTER, VENDOR, ADMIN)
    @bp.arguments(PageArgs, location="query")
    @bp.response(200, schemas.InvitePageOut)
    def get(self, args, team_id):
        """A team's invites, newest first (their tokens are never shown again)."""
        rows = services.invites(account=current_account(), team_id=team_id, **args)
        return page_of([_invite(r) for r in rows], args["limit"], key=lambda r: r["id"])


def _invite(row) -> dict:
    return {name: getattr(row, name) for name in ("id", "team_id", "email", "role", "created_at", "expires_at",
                                                  "used_at", "revoked_at")}


@bp.route("/teams/<int:team_id>/invites/<int:invite_id>")
class OneInvite(MethodView):
    @requires(REQUESTER, VENDOR, ADMIN)
    @idempotent
    @bp.response(200, schemas.InviteOut)
    def delete(self, team_id, invite_id):
        """Revoke an invite: nobody can use it from now on (who joined by it stays)."""
        with transaction():
            return _invite(services.revoke_invite(account=current_account(), team_id=team_id, invite_id=invite_id,
                                                  now=utcnow()))


@bp.route("/team-invites/accept")
class Accept(MethodView):
    @requires(ANNOTATOR, VENDOR)
    @idempotent
    @bp.arguments(schemas.AcceptIn)
    @bp.response(201, schemas.MembershipOut)
    def post(self, body):
        """Join a team with an invite's token (annotators as members or reviewers, vendors as managers)."""
        with transaction():
            return services.accept(account=current_account(), token=body["token"], now=utcnow())


@bp.route("/teams/<int:team_id>/members")
class Members(MethodView):
    @requires(REQUESTER, VENDOR, ADMIN)
    @bp.arguments(PageArgs, location="query")
    @bp.response(200, schemas.MemberPageOut)
    def get(self, args, team_id):
        """A team's current members, newest first (emails only of those invited by email)."""
        rows = services.members(account=current_account(), team_id=team_id, **args)
        shown = [{"id": m.id, "team_id": m.team_id, "role": m.role, "joined_at": m.joined_at,
                  "display_name": a.display_name, "email": a.email if invite is not None and invite.email else None}
                 for m, a, invite in rows]
        return page_of(shown, args["limit"], key=lambda m: m["id"])


@bp.route("/teams/<int:team_id>/members/<int:member_id>")
class OneMember(MethodView):
    @requires(REQUESTER, VENDOR, ADMIN)
    @idempotent
    @bp.arguments(schemas.RoleIn)
    @bp.response(200, schemas.MembershipOut)
    def patch(self, body, team_id, member_id):
        """Make a member a reviewer (reviews the team's projects) or a reviewer a member."""
        with transaction():
            return services.set_role(account=current_account(), team_id=team_id, member_id=member_id, **body)

    @requires(REQUESTER, VENDOR, ADMIN)
    @idempotent
    @bp.response(204)
    def delete(self, team_id, member_id):
        """Take someone off the team: no new team work (live leases run their course)."""
        with transaction():
            services.remove(account=current_account(), team_id=team_id, member_id=member_id, now=utcnow())


@bp.route("/teams/<int:team_id>/leave")
class Leave(MethodView):
    @requires(ANNOTATOR, VENDOR)
    @idempotent
    @bp.response(204)
    def post(self, team_id):
        """Leave a team you belong to."""
        with transaction():
            services.leave(account=current_account(), team_id=team_id, now=utcnow())


@bp.route("/teams/<int:team_id>/stats")
class Stats(MethodView):
    @requires(REQUESTER, VENDOR, ADMIN)
    @bp.arguments(schemas.StatsArgs, location="query")
    @bp.response(200, schemas.TeamStatsOut)
    def get(self, args, team_id):
        """The team's work per project: answers, throughput, active members, gold accuracy, approvals."""
        return team_stats.team_stats(account=current_account(), team_id=team_id, now=utcnow(), **args)


@bp.route("/projects/<int:project_id>/workforce")
class Workforce(MethodView):
    @requires(REQUESTER, ADMIN)
    @bp.response(200, schemas.WorkforceOut)
    def get(self, project_id):
        """Who may work on your project."""
        return workforce.shown(projects.owned(account=current_account(), project_id=project_id))

    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.arguments(schemas.WorkforceIn)
    @bp.response(200, schemas.WorkforceOut)
    def put(self, body, project_id):
        """Set who may work on your project: the crowd, teams (with their own reward), or teams first."""
        account = current_account()
        with transaction():
            project = projects.owned(account=account, project_id=project_id, lock=True)
            return workforce.set_workforce(account=account, project=project, body=body, now=utcnow())
