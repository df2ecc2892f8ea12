"""The OpenAPI document as a product: operation ids, every error status per operation, required outputs.

An apispec plugin, so the rules hold for every route without a decorator on each:
- `operationId`: from OPERATION_IDS, a table kept here on purpose. Generated clients name their
  functions after it (`create_project`, `lease_task`), so it is part of the contract: renaming a
  view class must not rename a client function. A route missing from the table fails the spec build.
- Error responses: beside `default`, each operation lists the statuses it can return, all in the one
  error shape: 401 and 403 when it needs a credential, 404 when its path names an object, 409 when it
  changes an existing object's state (or creates one that must be unique), 402 where money moves,
  503 where the payment provider is called, 422 where it takes a body or query (flask-smorest adds
  those), 429 everywhere but the probes (limits.DocumentLimits).
- Typed shapes for fields marshmallow cannot describe: a field with `metadata={"component": name}`
  is a reference to that component (an array's items, for a list): `Answer` (one of the label types'
  answer schemas, labels/spec.py), `TaskIn` (an import row), `LeasedTask`.
- Outputs: every property of a response schema (`...Out`) is required: the API always sends each
  field, null when it has no value (and the field says `nullable`), so generated models need no
  "unset" state. A field sent only sometimes says so with `metadata={"optional": True}`.
"""
import re
from http import HTTPStatus

from apispec import BasePlugin

from marketplace.labels import spec as label_spec
from marketplace.tasks.schemas import TaskIn

PREFIX = "/api/v1"

OPERATION_IDS = {
    ("get", "/health"): "get_health",
    ("post", "/requesters"): "register_requester",
    ("post", "/annotators"): "register_annotator",
    ("post", "/auth/tokens"): "log_in",
    ("delete", "/auth/tokens/{token_id}"): "log_out",
    ("get", "/me"): "get_me",
    ("get", "/api-keys"): "list_api_keys",
    ("post", "/api-keys"): "create_api_key",
    ("delete", "/api-keys/{key_id}"): "revoke_api_key",
    ("get", "/projects"): "list_projects",
    ("post", "/projects"): "create_project",
    ("get", "/projects/{project_id}"): "get_project",
    ("patch", "/projects/{project_id}"): "update_project",
    ("post", "/projects/{project_id}/publish"): "publish_project",
    ("post", "/projects/{project_id}/pause"): "pause_project",
    ("post", "/projects/{project_id}/resume"): "resume_project",
    ("post", "/projects/{project_id}/close"): "close_project",
    ("get", "/projects/{project_id}/guidelines"): "list_guidelines",
    ("post", "/projects/{project_id}/guidelines"): "publish_guidelines",
    ("get", "/projects/{project_id}/escrow"): "get_escrow",
    ("post", "/projects/{project_id}/escrow"): "fund_escrow",
    ("get", "/projects/{project_id}/tasks"): "list_tasks",
    ("post", "/projects/{project_id}/tasks"): "import_tasks",
    ("post", "/projects/{project_id}/tasks/upload"): "upload_tasks",
    ("post", "/projects/{project_id}/tasks/predictions"): "import_predictions",
    ("get", "/tasks/{task_id}"): "get_task",
    ("post", "/projects/{project_id}/assignments"): "lease_task",
    ("get", "/assignments"): "list_assignments",
    ("get", "/assignments/{assignment_id}"): "get_assignment",
    ("post", "/assignments/{assignment_id}/answer"): "submit_answer",
    ("post", "/assignments/{assignment_id}/release"): "release_assignment",
    ("post", "/assignments/{assignment_id}/skip"): "skip_assignment",
    ("get", "/projects/{project_id}/results"): "list_results",
    ("get", "/projects/{project_id}/results/export"): "export_results",
    ("get", "/projects/{project_id}/recompute"): "get_recompute",
    ("post", "/projects/{project_id}/recompute"): "start_recompute",
    ("get", "/qualifications"): "list_qualifications",
    ("post", "/qualifications"): "create_qualification",
    ("get", "/qualifications/{qualification_id}"): "get_qualification",
    ("post", "/qualifications/{qualification_id}/questions"): "add_qualification_questions",
    ("post", "/qualifications/{qualification_id}/attempts"): "start_qualification_attempt",
    ("get", "/attempts"): "list_attempts",
    ("post", "/attempts/{attempt_id}/answers"): "submit_attempt",
    ("get", "/qualifications/{qualification_id}/grants"): "list_grants",
    ("post", "/qualifications/{qualification_id}/grants"): "grant_qualification",
    ("delete", "/qualifications/{qualification_id}/grants/{annotator_id}"): "revoke_qualification",
    ("get", "/me/trust"): "get_my_trust",
    ("get", "/me/missed-gold"): "list_my_missed_gold",
    ("get", "/me/skills"): "list_my_skills",
    ("get", "/projects/{project_id}/annotators"): "list_project_annotators",
    ("get", "/projects/{project_id}/stats"): "get_project_stats",
    ("get", "/projects/{project_id}/report"): "get_project_report",
    ("get", "/admin/report"): "get_marketplace_report",
    ("get", "/projects/{project_id}/forecast"): "get_project_forecast",
    ("get", "/me/feed"): "get_my_feed",
    ("post", "/assignments/{assignment_id}/questions"): "ask_question",
    ("get", "/projects/{project_id}/questions"): "list_project_questions",
    ("post", "/questions/{question_id}/answer"): "answer_question",
    ("post", "/questions/{question_id}/promote"): "promote_question",
    ("post", "/vendors"): "register_vendor",
    ("post", "/teams"): "create_team",
    ("get", "/teams"): "list_teams",
    ("get", "/teams/{team_id}"): "get_team",
    ("post", "/teams/{team_id}/invites"): "invite_to_team",
    ("get", "/teams/{team_id}/invites"): "list_team_invites",
    ("delete", "/teams/{team_id}/invites/{invite_id}"): "revoke_team_invite",
    ("post", "/team-invites/accept"): "accept_team_invite",
    ("get", "/teams/{team_id}/members"): "list_team_members",
    ("patch", "/teams/{team_id}/members/{member_id}"): "set_team_member_role",
    ("delete", "/teams/{team_id}/members/{member_id}"): "remove_team_member",
    ("post", "/teams/{team_id}/leave"): "leave_team",
    ("get", "/teams/{team_id}/stats"): "get_team_stats",
    ("get", "/projects/{project_id}/workforce"): "get_project_workforce",
    ("put", "/projects/{project_id}/workforce"): "set_project_workforce",
    ("post", "/projects/{project_id}/experiments"): "start_experiment",
    ("get", "/projects/{project_id}/experiments"): "list_experiments",
    ("get", "/projects/{project_id}/experiments/{experiment_id}"): "get_experiment",
    ("post", "/projects/{project_id}/experiments/{experiment_id}/stop"): "stop_experiment",
    ("post", "/admin/accounts/{account_id}/suspend"): "suspend_account",
    ("post", "/admin/accounts/{account_id}/reinstate"): "reinstate_account",
    ("get", "/admin/accounts/{account_id}/skills"): "list_account_skills",
    ("post", "/admin/accounts/{account_id}/skills"): "verify_skill",
    ("delete", "/admin/accounts/{account_id}/skills/{name}"): "remove_skill",
    ("get", "/admin/jobs"): "list_jobs",
    ("post", "/admin/jobs/failed/{job_id}/retry"): "retry_failed_job",
    ("post", "/admin/jobs/periodic/{name}/run"): "run_periodic_job",
    ("get", "/webhooks"): "list_webhooks",
    ("post", "/webhooks"): "create_webhook",
    ("get", "/webhooks/{endpoint_id}"): "get_webhook",
    ("patch", "/webhooks/{endpoint_id}"): "update_webhook",
    ("delete", "/webhooks/{endpoint_id}"): "delete_webhook",
    ("post", "/webhooks/{endpoint_id}/rotate-secret"): "rotate_webhook_secret",
    ("post", "/webhooks/{endpoint_id}/test"): "test_webhook",
    ("get", "/webhooks/{endpoint_id}/deliveries"): "list_webhook_deliveries",
    ("post", "/webhook-deliveries/{delivery_id}/replay"): "replay_webhook_delivery",
    ("post", "/projects/{project_id}/reviews"): "lease_review",
    ("get", "/reviews"): "list_reviews",
    ("post", "/reviews/{review_id}/decision"): "decide_review",
    ("post", "/reviews/{review_id}/rework"): "request_rework",
    ("post", "/tasks/{task_id}/review"): "send_task_to_review",
    ("post", "/projects/{project_id}/answers/approve"): "approve_answers",
    ("post", "/projects/{project_id}/answers/reject"): "reject_answers",
    ("get", "/projects/{project_id}/answers"): "list_answers",
    ("get", "/bonuses"): "list_bonuses",
    ("post", "/bonuses"): "pay_bonus",
    ("get", "/payments/fundings"): "list_fundings",
    ("post", "/payments/fundings"): "create_funding",
    ("get", "/payments/fundings/{funding_id}"): "get_funding",
    ("get", "/payouts/account"): "get_payout_account",
    ("post", "/payouts/account"): "create_payout_account",
    ("post", "/payouts/account/onboarding-link"): "create_onboarding_link",
    ("get", "/payouts"): "list_my_payouts",
    ("post", "/payments/stripe/webhook"): "receive_stripe_event",
    ("get", "/admin/refunds"): "list_refunds",
    ("post", "/admin/refunds"): "create_refund",
    ("get", "/admin/payouts"): "list_payouts",
    ("post", "/admin/payouts/run"): "run_payouts",
    ("post", "/admin/payouts/{payout_id}/retry"): "retry_payout",
    ("get", "/admin/reconciliation"): "list_reconciliations",
    ("post", "/admin/reconciliation"): "run_reconciliation",
    ("get", "/balance"): "get_balance",
    ("get", "/balance/entries"): "list_balance_entries",
    ("get", "/admin/ledger/trial-balance"): "get_trial_balance",
    ("get", "/disputes"): "list_disputes",
    ("post", "/disputes"): "open_dispute",
    ("get", "/disputes/{dispute_id}"): "get_dispute",
    ("post", "/admin/disputes/{dispute_id}/resolve"): "resolve_dispute",
    ("get", "/admin/audit-log"): "list_audit_log",
    ("get", "/projects/{project_id}/exports"): "list_exports",
    ("post", "/projects/{project_id}/exports"): "create_export",
    ("get", "/exports/{export_id}"): "get_export",
    ("get", "/exports/{export_id}/download"): "download_export",
    ("get", "/projects/{project_id}/imports"): "list_imports",
    ("post", "/projects/{project_id}/imports"): "create_import",
    ("post", "/projects/{project_id}/imports/upload"): "upload_import",
    ("get", "/imports/{import_id}"): "get_import",
}

# Worked examples on the operations a first integration calls (request body, then the success body).
EXAMPLES = {
    "create_project": ({
        "name": "Pets", "instructions": "Which animal is in the picture?", "reward_cents": 3, "answers_per_task": 3,
        "label_schema": {"type": "classification", "classes": ["cat", "dog", "bird"]},
        "gold_rate": 0.1, "quality_rules": [{"metric": "gold_accuracy_lower_bound", "below": 0.6, "min_count": 5,
                                             "action": "block", "reject_answers": True}]}, None),
    "import_tasks": ({"tasks": [{"external_id": "img-001", "data": {"image": "https://cdn.example.com/1.jpg"}},
                                {"external_id": "gold-01", "data": {"image": "https://cdn.example.com/g1.jpg"},
                                 "gold_answer": {"label": "cat"}, "gold_explanation": "Whiskers, pointy ears."}]},
                     {"created": 2, "duplicates": [], "duplicate_count": 0, "task_count": 1}),  # gold is not counted
    "lease_task": (None, {"id": 41, "status": "leased", "project_id": 7, "guideline_version": 1,
                          "leased_at": "2026-12-03T10:00:00+00:00", "expires_at": "2026-12-03T10:10:00+00:00",
                          "task": {"ref": "tsk_5f1c0a9e2b7d4c3a8e6f", "data": {"image": "https://cdn.example.com/1.jpg"},
                                   "note": None, "prelabel": None}}),
    "submit_answer": ({"answer": {"label": "cat"}}, None),
    "skip_assignment": ({"reason": "the image does not load"}, None),
    "log_in": ({"email": "ml@team.example", "password": "a long password"}, None),
}

# Operations that create something unique or move an existing object between states (409), move
# money (402), or call the payment provider (503); matched on the path without the prefix.
_CONFLICT_CREATES = {"/requesters", "/annotators", "/vendors", "/webhooks", "/disputes", "/payouts/account",
                     "/team-invites/accept"}
_MONEY = re.compile(r"/escrow$|/bonuses$|/refunds$|/payouts/run$|/payouts/\{payout_id\}/retry$")
_PROVIDER = re.compile(r"^/payments/fundings$|^/admin/refunds$|^/payouts/account|^/admin/payouts|^/admin/reconciliation$")
_UNSIGNED = {"/payments/stripe/webhook"}  # Stripe signs its deliveries; there is no bearer credential


def _statuses(method: str, path: str, secured: bool) -> list[int]:
    found = []
    if secured:
        found += [401, 403]
    if "{" in path:
        found.append(404)
    if method in ("post", "put", "patch", "delete") and ("{" in path or path in _CONFLICT_CREATES):
        found.append(409)
    if method == "post" and _MONEY.search(path):
        found.append(402)
    if method == "post" and _PROVIDER.search(path):
        found.append(503)
    if path in _UNSIGNED:
        found += [400, 401]
    return found


def _typed(prop: dict, component: str) -> dict:
    """A property (or an array's items) as a reference to a component, keeping its description and nullability."""
    ref = {"$ref": f"#/components/schemas/{component}"}
    if prop.get("type") == "array":
        return {**prop, "items": ref}
    typed = {key: prop[key] for key in ("description", "example") if key in prop}
    if prop.get("nullable"):  # OpenAPI 3.0: a $ref takes no siblings, so a nullable one is wrapped
        return {**typed, "allOf": [ref], "nullable": True}
    return {**typed, "allOf": [ref]} if typed else ref


def _optional_filter(parameter: dict) -> None:
    """A query filter left out means "any": not a null member of its enum (generated clients choke on it)."""
    schema = parameter.get("schema") if isinstance(parameter, dict) else None
    if parameter.get("in") != "query" or not isinstance(schema, dict) or schema.get("default", 0) is not None:
        return
    schema.pop("default")
    schema.pop("nullable", None)
    if "enum" in schema:
        schema["enum"] = [value for value in schema["enum"] if value is not None]


def _add_examples(operation: dict) -> None:
    request, response = EXAMPLES.get(operation["operationId"], (None, None))
    if request is not None and "requestBody" in operation:
        operation["requestBody"]["content"]["application/json"]["example"] = request
    if response is not None:
        for status, answer in operation.get("responses", {}).items():
            if str(status).startswith("2") and isinstance(answer, dict) and "content" in answer:
                answer["content"]["application/json"]["example"] = response


# The task a lease hands out, as the annotator sees it (never its id, never whether it is gold).
LEASED_TASK = {"type": "object", "required": ["ref", "data", "note", "prelabel"], "properties": {
    "ref": {"type": "string", "description": "an opaque reference, different for every annotator"},
    "data": {"type": "object", "description": "the item, as imported (e.g. text, or image with width and height)"},
    "note": {"type": "string", "nullable": True, "description": "the requester's note when the task came back for rework"},
    "prelabel": {"type": "object", "nullable": True, "description": "the model's label, when the project shows it"}}}


class DocumentOperations(BasePlugin):
    """Name every operation, list its error statuses, and make response fields required."""

    def init_spec(self, spec):
        super().init_spec(spec)
        self.spec = spec
        for name, (schema, types) in label_spec.ANSWER.items():
            spec.components.schema(name, {**schema, "description": f"the answer of a {' or '.join(types)} project"})
        spec.components.schema("Answer", {
            "oneOf": [{"$ref": f"#/components/schemas/{answer}"} for answer in label_spec.ANSWER],
            "description": "an answer, shaped by the project's label type"})
        spec.components.schema("LeasedTask", LEASED_TASK)
        spec.components.schema("TaskIn", schema=TaskIn)  # an import row (TaskBatchIn's items)

    def operation_helper(self, path=None, operations=None, **kwargs):
        short = path[len(PREFIX):] if path and path.startswith(PREFIX) else path
        for method, operation in (operations or {}).items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            operation["operationId"] = OPERATION_IDS[(method, short)]  # a new route needs a name here
            if short in _UNSIGNED:
                operation["security"] = []
                operation.setdefault("parameters", []).append({
                    "name": "Stripe-Signature", "in": "header", "required": True, "schema": {"type": "string"},
                    "description": "Stripe's signature of the raw body"})
            _add_examples(operation)
            for parameter in operation.get("parameters", []):
                _optional_filter(parameter)
            secured = operation.get("security") != []
            responses = operation.setdefault("responses", {})
            for status in _statuses(method, short, secured) + [422]:  # 422: any unknown query parameter (query.py)
                responses.setdefault(str(status), HTTPStatus(status).name)  # flask-smorest's error responses

    def schema_helper(self, name, definition, schema=None, **kwargs):  # noqa: D102 (the class docstring)
        fields = getattr(schema, "_declared_fields", None) or getattr(schema, "fields", {}) or {}
        for key, field in fields.items():
            component = field.metadata.get("component")
            if component and key in definition.get("properties", {}):
                definition["properties"][key] = _typed(definition["properties"][key], component)
        if not name.endswith("Out") or not definition.get("properties"):
            return None
        optional = {key for key, field in fields.items() if field.metadata.get("optional")}
        present = [key for key in definition["properties"] if key not in optional]
        return {"required": list(dict.fromkeys([*definition.get("required", []), *present]))}
