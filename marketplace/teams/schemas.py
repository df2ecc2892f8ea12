"""Team, invite, membership and workforce schemas. Nothing here accepts an owner, a kind or a member's account."""
from marshmallow import Schema, fields, validate

from marketplace.inputs import StrictBoolean, id_range
from marketplace.pagination import PageArgs, page_schema
from marketplace.teams.models import MEMBER, REVIEWER, ROLES

MAX_REWARD = 100_000


class TeamIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class TeamOut(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String(metadata={"description": "private (a requester's) or vendor (targetable by any requester)"})
    member_count = fields.Integer(metadata={"description": "current members and reviewers"})
    my_role = fields.String(allow_none=True, metadata={"description": "owner, manager, member, reviewer or null"})
    created_at = fields.DateTime()


class TeamListArgs(PageArgs):
    scope = fields.String(load_default="mine", validate=validate.OneOf(("mine", "vendors")), metadata={
        "description": "mine: teams you own, manage or work in; vendors: every vendor team (to target one)"})


TeamPageOut = page_schema(TeamOut, "TeamPageOut")


class InviteIn(Schema):
    email = fields.Email(load_default=None, allow_none=True, metadata={
        "description": "invite this account only (used once); leave out for a link anyone holding it may use"})
    role = fields.String(load_default=MEMBER, validate=validate.OneOf(ROLES))
    expires_in_hours = fields.Integer(strict=True, load_default=168, validate=validate.Range(min=1, max=24 * 90))


class InviteOut(Schema):
    id = fields.Integer()
    team_id = fields.Integer()
    email = fields.String(allow_none=True)
    role = fields.String()
    created_at = fields.DateTime()
    expires_at = fields.DateTime()
    used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    token = fields.String(metadata={"description": "shown once, when the invite is made", "optional": True})


InvitePageOut = page_schema(InviteOut, "InvitePageOut")


class AcceptIn(Schema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=200))


class MembershipOut(Schema):
    member_id = fields.Integer(attribute="id")
    team_id = fields.Integer()
    role = fields.String()
    joined_at = fields.DateTime()


class MemberOut(MembershipOut):
    display_name = fields.String()
    email = fields.String(allow_none=True, metadata={"description": "only for members invited by email"})


MemberPageOut = page_schema(MemberOut, "MemberPageOut")


class RoleIn(Schema):
    role = fields.String(required=True, validate=validate.OneOf((MEMBER, REVIEWER)))


class TeamTarget(Schema):
    team_id = fields.Integer(strict=True, required=True, validate=id_range())
    reward_cents = fields.Integer(strict=True, load_default=None, allow_none=True,
                                  validate=validate.Range(min=1, max=MAX_REWARD),
                                  metadata={"description": "this team's reward per answer (default: the project's)"})


class WorkforceIn(Schema):
    crowd = StrictBoolean(load_default=True, metadata={"description": "whether the public crowd may work (after crowd_after_hours)"})
    teams = fields.List(fields.Nested(TeamTarget), load_default=list, validate=validate.Length(max=50))
    crowd_after_hours = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0, max=24 * 365),
                                     metadata={"description": "the teams get the work first; the crowd joins this "
                                                              "many hours after publishing"})


class WorkforceOut(Schema):
    crowd = fields.Boolean()
    crowd_after_hours = fields.Float(allow_none=True)
    teams = fields.List(fields.Dict())
    crowd_admitted_at = fields.DateTime(allow_none=True)


class StatsArgs(Schema):
    days = fields.Integer(load_default=7, validate=validate.Range(min=1, max=365))


class TeamProjectStatsOut(Schema):
    project_id = fields.Integer()
    project_name = fields.String()
    answers = fields.Integer()
    answers_in_window = fields.Integer()
    answers_per_hour = fields.Float(metadata={"description": "over the window"})
    active_members = fields.Integer(metadata={"description": "members who answered in the window"})
    gold_seen = fields.Integer()
    gold_correct = fields.Integer()
    gold_accuracy = fields.Float(allow_none=True)
    gold_accuracy_interval = fields.List(fields.Float(), allow_none=True)
    approved = fields.Integer()
    rejected = fields.Integer()


class TeamStatsOut(Schema):
    team_id = fields.Integer()
    days = fields.Integer()
    projects = fields.List(fields.Nested(TeamProjectStatsOut))
