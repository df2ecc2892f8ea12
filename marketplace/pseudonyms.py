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


def gold_order_key(annotator_id: int) -> str:
    """A secret per annotator that orders the gold they are handed (md5 of key + task id, lowest first).

    Stable for one annotator, different for every other: annotators comparing the items they all
    saw early cannot pick out gold as the items everyone gets, and a new account gets a new order.
    """
    return _digest(f"gold-order:{annotator_id}")[:32]


def gold_rank(key: str, task_id: int) -> str:
    """A task's place in the gold order for `key`: the same md5 PostgreSQL computes in the lease statement."""
    return hashlib.md5(f"{key}{task_id}".encode()).hexdigest()


def keyed_fraction(message: str) -> float:
    """A number in [0, 1) fixed by `message` that only the server can compute (a keyed hash)."""
    return int(_digest(message)[:13], 16) / 16**13
