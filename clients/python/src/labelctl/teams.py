"""Teams (private and vendor workforces), their invites and members, and who works on a project."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, cast

from labelctl._http import IdempotencyKey
from labelctl._resource import Resource


class Teams(Resource):
    def create(self, name: str, *, idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
        """Make a team: private for a requester, a vendor team for a vendor account."""
        return cast(dict, self._http.request("POST", "/teams", json={"name": name}, idempotency_key=idempotency_key))

    def list(self, *, scope: str = "mine", page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Your teams (owned, managed or joined); scope="vendors" lists every vendor team you may target."""
        return self._http.pages("/teams", {"scope": scope}, page_size=page_size)

    def get(self, team_id: int) -> dict[str, Any]:
        return cast(dict, self._http.request("GET", f"/teams/{team_id}"))

    def invite(self, team_id: int, *, email: str | None = None, role: str = "member", expires_in_hours: int = 168,
               idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
        """Invite one email (used once) or, without one, make a link; the `token` is in this response only."""
        body = {"email": email, "role": role, "expires_in_hours": expires_in_hours}
        return cast(dict, self._http.request("POST", f"/teams/{team_id}/invites", json=body,
                                             idempotency_key=idempotency_key))

    def invites(self, team_id: int, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        return self._http.pages(f"/teams/{team_id}/invites", page_size=page_size)

    def revoke_invite(self, team_id: int, invite_id: int, *, idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
        return cast(dict, self._http.request("DELETE", f"/teams/{team_id}/invites/{invite_id}",
                                             idempotency_key=idempotency_key))

    def accept(self, token: str, *, idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
        """Join the team an invite's token is for (annotators; vendor accounts for manager invites)."""
        return cast(dict, self._http.request("POST", "/team-invites/accept", json={"token": token},
                                             idempotency_key=idempotency_key))

    def members(self, team_id: int, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        return self._http.pages(f"/teams/{team_id}/members", page_size=page_size)

    def set_role(self, team_id: int, member_id: int, role: str, *,
                 idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
        """Make a member a reviewer, or a reviewer a member."""
        return cast(dict, self._http.request("PATCH", f"/teams/{team_id}/members/{member_id}", json={"role": role},
                                             idempotency_key=idempotency_key))

    def remove(self, team_id: int, member_id: int, *, idempotency_key: IdempotencyKey = None) -> None:
        self._http.request("DELETE", f"/teams/{team_id}/members/{member_id}", idempotency_key=idempotency_key)

    def leave(self, team_id: int, *, idempotency_key: IdempotencyKey = None) -> None:
        self._http.request("POST", f"/teams/{team_id}/leave", idempotency_key=idempotency_key)

    def stats(self, team_id: int, *, days: int = 7) -> dict[str, Any]:
        """The team's work per project: answers, throughput, active members, gold accuracy, approvals."""
        return cast(dict, self._http.request("GET", f"/teams/{team_id}/stats", params={"days": days}))

    def workforce(self, project_id: int) -> dict[str, Any]:
        """Who may work on your project."""
        return cast(dict, self._http.request("GET", f"/projects/{project_id}/workforce"))

    def set_workforce(self, project_id: int, workforce: Mapping[str, Any], *,
                      idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
        """{"crowd": bool, "teams": [{"team_id", "reward_cents"}], "crowd_after_hours": hours or None}."""
        return cast(dict, self._http.request("PUT", f"/projects/{project_id}/workforce", json=dict(workforce),
                                             idempotency_key=idempotency_key))
