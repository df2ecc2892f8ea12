"""Asking, answering and promoting task questions; who sees which.

- An annotator asks from one of their assignments, so only about a task they were given.
- The project's requester (or an admin) sees every question with its task and answers it once.
- Annotators who may see the project read the answered questions, without who asked and without
  the task: a question on a gold task must not mark that task (or anyone's answer) for others.
- Promoting adds the question and its answer to the instructions as a new minor guideline version.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from marketplace import pseudonyms
from marketplace.accounts.models import ANNOTATOR, Account
from marketplace.assignments.models import Assignment
from marketplace.errors import Conflict, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.pagination import keyset
from marketplace.projects import guidelines, services as projects
from marketplace.questions.models import TaskQuestion


def ask(*, annotator: Account, assignment_id: int, question: str, now: datetime) -> dict:
    """Ask about the task of one of your assignments."""
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None or assignment.annotator_id != annotator.id:
        raise NotFound("No such assignment.")
    row = TaskQuestion(project_id=assignment.project_id, task_id=assignment.task_id, assignment_id=assignment.id,
                       asked_by=annotator.id, question=_text(question, "question"), asked_at=now)
    db.session.add(row)
    db.session.flush()
    return shown(row, annotator)


def listing(*, account: Account, project_id: int, cursor: int | None, limit: int) -> list[dict]:
    """A project's questions, newest first: all of them for its requester, the answered ones for annotators."""
    project = projects.visible_to(account=account, project_id=project_id)
    query = select(TaskQuestion).where(TaskQuestion.project_id == project.id)
    if account.role == ANNOTATOR:
        query = query.where(TaskQuestion.answered_at.is_not(None))
    return [shown(row, account) for row in db.session.scalars(keyset(query, TaskQuestion.id, cursor, limit))]


def answer(*, account: Account, question_id: int, answer: str, now: datetime) -> dict:
    """Answer a question on your project (once)."""
    row = _owned(account, question_id)
    if row.answered_at is not None:
        raise Conflict("This question is already answered.", code="already_answered")
    row.answer, row.answered_at = _text(answer, "answer"), now
    db.session.flush()
    return shown(row, account)


def promote(*, account: Account, question_id: int, now: datetime) -> dict:
    """Add an answered question to the instructions: a new minor guideline version, named in the question."""
    row = _owned(account, question_id)
    if row.answered_at is None:
        raise Conflict("Answer the question before adding it to the guidelines.", code="not_answered")
    if row.promoted_version is not None:
        raise Conflict(f"Already in the guidelines (version {row.promoted_version}).", code="already_promoted")
    project = projects.owned(account=account, project_id=row.project_id)
    entry = f"Q: {row.question}\nA: {row.answer}"
    instructions = f"{project.instructions.rstrip()}\n\n{entry}" if project.instructions.strip() else entry
    version = guidelines.publish(account=account, project_id=project.id, instructions=instructions, major=False,
                                 requalify=False, reopen_answered=False, note=f"question {row.id}", now=now)
    row.promoted_version = version.version
    db.session.flush()
    return shown(row, account)


def _text(value: str, field: str) -> str:
    if not value.strip():
        raise ValidationFailed(f"The {field} is blank.", errors={"json": {field: ["must not be blank"]}})
    return value.strip()


def _owned(account: Account, question_id: int) -> TaskQuestion:
    row = db.session.scalar(select(TaskQuestion).where(TaskQuestion.id == question_id).with_for_update())
    if row is None or account.role == ANNOTATOR:
        raise NotFound("No such question.")
    projects.owned(account=account, project_id=row.project_id)  # another requester's: a 404
    return row


def shown(row: TaskQuestion, account: Account) -> dict:
    """The question as this account may see it."""
    out = {"id": row.id, "project_id": row.project_id, "question": row.question, "asked_at": row.asked_at,
           "answer": row.answer, "answered_at": row.answered_at, "promoted_version": row.promoted_version}
    if account.role != ANNOTATOR:
        return {**out, "task_id": row.task_id, "assignment_id": row.assignment_id,
                "asked_by": pseudonyms.annotator(row.project_id, row.asked_by)}
    if row.asked_by == account.id:
        return {**out, "assignment_id": row.assignment_id, "task_ref": pseudonyms.task_ref(row.task_id, account.id)}
    return out
