"""Opaque ids: an annotator as a requester sees them, a task as an annotator sees it.

Keyed HMACs of our ids: stable (the same annotator is the same pseudonym throughout a project),
unlinkable across scopes, and revealing nothing about the id sequence (so a gold task's id, imported
in a batch of its own, cannot be told from its neighbours').
"""
import hashlib
import hmac

from flask import current_app


def _digest(message: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def annotator(project_id: int, annotator_id: int) -> str:
    """Return an annotator's pseudonym within one project."""
    return "ann_" + _digest(f"annotator:{project_id}:{annotator_id}")[:16]


def task_ref(task_id: int, annotator_id: int) -> str:
    """Return the reference under which one annotator sees one task."""
    return "tsk_" + _digest(f"task:{task_id}:{annotator_id}")[:20]
