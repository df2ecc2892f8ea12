"""The API's objects as TypedDicts: the JSON the server sends, typed, not copied into classes.

TypedDicts rather than dataclasses because the client passes responses through as they come: a
field the server adds later reaches the caller without a client release, and nothing is lost or
renamed on the way. Every dict is `total=False`: what a caller sees depends on their role (an
annotator's project listing has no escrow) and on the server's version. Amounts are integer cents.
"""
from __future__ import annotations

from typing import Any, Generic, TypedDict, TypeVar

T = TypeVar("T")


class Page(TypedDict, Generic[T]):
    items: list[T]
    next_cursor: int | None


class Account(TypedDict, total=False):
    id: int
    email: str
    role: str
    status: str
    display_name: str
    created_at: str


class Token(TypedDict, total=False):
    id: int
    token: str
    token_type: str
    expires_at: str


class ApiKey(TypedDict, total=False):
    id: int
    name: str
    prefix: str
    created_at: str
    revoked_at: str | None
    key: str  # only in the response that created it


class Escrow(TypedDict, total=False):
    moved_cents: int
    escrow_cents: int
    escrow_held_cents: int
    escrow_free_cents: int
    answer_cost_cents: int
    fee_bps: int


class Project(TypedDict, total=False):
    id: int
    requester_id: int
    name: str
    description: str
    instructions: str
    label_schema: dict[str, Any]
    reward_cents: int
    currency: str
    answers_per_task: int
    assignment_duration_s: int
    min_answers: int | None
    max_answers: int | None
    target_confidence: float | None
    aggregation: str
    budget_cents: int | None
    fee_bps: int
    escrow: Escrow | None
    gold_rate: float
    gold_count: int
    requirements: dict[str, Any]
    quality_rules: list[dict[str, Any]]
    status: str  # draft, open, paused, completed, closed
    guideline_version: int
    task_count: int
    closed_task_count: int
    created_at: str
    updated_at: str
    published_at: str | None
    completed_at: str | None


class ImportResult(TypedDict, total=False):
    created: int
    duplicates: list[str]
    duplicate_count: int
    task_count: int


class TransferError(TypedDict, total=False):
    code: str
    message: str
    errors: dict[str, Any] | None


class TransferJob(TypedDict, total=False):
    id: int
    project_id: int
    status: str
    format: str
    rows_done: int
    rows_total: int | None
    percent: float
    eta_s: float | None
    error: TransferError | None
    attempts: int
    created_at: str
    started_at: str | None
    heartbeat_at: str | None
    finished_at: str | None
    expires_at: str | None


class ExportJob(TransferJob, total=False):
    size_bytes: int | None
    filename: str | None
    media_type: str | None
    etag: str | None
    download_url: str | None


class ImportJob(TransferJob, total=False):
    source: str
    filename: str | None
    bytes_done: int
    bytes_total: int | None
    created: int
    duplicate_count: int
    duplicates: list[str]


class Task(TypedDict, total=False):
    id: int
    project_id: int
    external_id: str
    data: dict[str, Any]
    status: str
    answer_count: int
    gold_answer: Any
    prediction: list[float] | None
    created_at: str
    closed_at: str | None


class Funding(TypedDict, total=False):
    id: int
    amount_cents: int
    currency: str
    status: str  # created, succeeded, failed
    payment_intent_id: str | None
    client_secret: str | None
    simulated: bool
    refunded_cents: int
    failure_message: str | None
    created_at: str


class BalanceLine(TypedDict, total=False):
    currency: str
    available_cents: int
    pending_cents: int | None


class Balance(TypedDict, total=False):
    balances: list[BalanceLine]
    gateway: dict[str, Any]


class ProjectStats(TypedDict, total=False):
    tasks: int
    closed_tasks: int
    gold_tasks: int
    annotators: int
    agreement: dict[str, Any]
    gold_accuracy: dict[str, Any]
    blocked_annotators: list[dict[str, Any]]
    annotators_out_of_gold: int


class ResultAnswer(TypedDict, total=False):
    annotator: str
    label: Any
    guideline_version: int


class Result(TypedDict, total=False):
    task_id: int
    external_id: str
    label: Any
    confidence: float
    method: str
    answer_count: int
    tie: bool
    gold: bool
    posterior: list[float] | None
    guideline_version: int | None
    answers: list[ResultAnswer]


class Recompute(TypedDict, total=False):
    id: int | None
    status: str
    reason: str
    percent: float | None
    stage: str | None
    error: str | None


class WebhookEndpoint(TypedDict, total=False):
    id: int
    url: str
    events: list[str]
    project_id: int | None
    description: str
    active: bool
    secret_prefix: str
    previous_secret_expires_at: str | None
    created_at: str
    updated_at: str
    secret: str  # only when created or rotated


class WebhookDelivery(TypedDict, total=False):
    id: int
    endpoint_id: int
    project_id: int | None
    event: str
    event_id: str
    payload: dict[str, Any]
    status: str
    cycle: int
    attempt_count: int
    last_status_code: int | None
    last_error: str | None
    created_at: str
    delivered_at: str | None
    attempts: list[dict[str, Any]]


class LeasedTask(TypedDict, total=False):
    ref: str
    data: dict[str, Any]
    note: str | None
    prelabel: Any


class Lease(TypedDict, total=False):
    id: int
    status: str
    project_id: int
    task: LeasedTask
    leased_at: str
    expires_at: str
    guideline_version: int


class Assignment(TypedDict, total=False):
    id: int
    project_id: int
    task_ref: str
    status: str
    answer: Any
    submitted_at: str | None
    payment_status: str
    feedback: dict[str, Any] | None
