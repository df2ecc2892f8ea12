"""CompiledDump: the hot endpoints' compiled dump gives exactly what marshmallow's Schema.dump gives."""
from collections import namedtuple
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from marshmallow import Schema, fields, post_dump

from marketplace.assignments import answering, schemas
from marketplace.assignments.lease_store import Lease
from marketplace.fastdump import CompiledDump
from marketplace.quality.services import Feedback

pytestmark = pytest.mark.embedded

NOW = datetime(2026, 12, 4, 12, 30, 15, 123456, tzinfo=timezone.utc)


def both(schema_class, obj, **dump):
    """The compiled dump and marshmallow's own, of one object (or many)."""
    compiled = schema_class()
    return compiled.dump(obj, **dump), Schema.dump(compiled, obj, **dump)


class Every(CompiledDump):
    number = fields.Integer(attribute="n")
    text = fields.String(allow_none=True)
    flag = fields.Boolean()
    when = fields.DateTime(data_key="at")
    raw = fields.Raw(allow_none=True)
    fallback = fields.Integer(dump_default=7)
    computed = fields.Method("_computed")
    fixed = fields.Constant("always")
    inner = fields.Nested(schemas.FeedbackOut, allow_none=True)
    listed = fields.List(fields.Integer())

    def _computed(self, obj):
        return f"n={getattr(obj, 'n', None) if not isinstance(obj, dict) else obj.get('n')}"


Row = namedtuple("Row", "n text flag when raw listed")


@dataclass
class Data:
    n: int
    text: str | None
    flag: bool
    when: datetime
    raw: object
    inner: Feedback | None


@pytest.mark.parametrize("obj", [
    SimpleNamespace(n=3, text="x", flag=True, when=NOW, raw={"a": [1, 2]}, inner=None, listed=[1, 2], fallback=5),
    SimpleNamespace(n="4", text=5, flag=0, when=NOW, raw=None),  # coerced as marshmallow coerces; the rest missing
    {"n": 1, "text": None, "flag": True, "when": NOW, "raw": "r", "listed": []},
    Row(2, "t", False, NOW, [1], [3]),
    Data(9, None, True, NOW, {"k": 1}, Feedback(False, "why", "cat")),
    SimpleNamespace(),  # every attribute missing: only the default, the method and the constant
], ids=["object", "coerced", "mapping", "namedtuple", "dataclass", "empty"])
def test_every_field_kind_dumps_as_marshmallow_does(obj):
    compiled, reference = both(Every, obj)
    assert compiled == reference
    assert list(compiled) == list(reference)  # same keys, same order


def test_many_and_none_dump_as_marshmallow_does():
    items = [SimpleNamespace(n=k, when=NOW) for k in range(3)]
    assert both(Every, items, many=True)[0] == both(Every, items, many=True)[1]
    assert both(Every, [], many=True) == ([], [])


def test_a_schema_with_a_dump_hook_takes_marshmallows_path():
    class Hooked(CompiledDump):
        n = fields.Integer()

        @post_dump
        def doubled(self, data, **kwargs):
            return {"n": data["n"] * 2}

    assert Hooked().dump({"n": 2}) == {"n": 4}


def test_the_lease_and_submission_replies_dump_as_marshmallow_does(app):
    lease = Lease(assignment_id=11, project_id=2, annotator_id=5, task_id=40, task_data={"text": "hi"},
                  leased_at=NOW, expires_at=NOW + timedelta(minutes=10), guideline_version=3,
                  note="careful", prelabel=["cat"], reward_cents=12)
    submissions = [answering.Submission(11, 2, 40, 5, "submitted", NOW, NOW + timedelta(minutes=10), NOW,
                                        {"label": "cat"}, 1500, 3, feedback)
                   for feedback in (None, Feedback(False, "it was a dog", "dog"))]
    with app.app_context():  # task refs are keyed by the app's secret
        compiled, reference = both(schemas.LeaseOut, lease)
        assert compiled == reference and compiled["task"]["ref"] and compiled["status"] == "leased"
        for submission in submissions:
            compiled, reference = both(schemas.SubmissionOut, submission)
            assert compiled == reference
            assert compiled["payment_status"] == "pending" and compiled["submitted_at"] == NOW.isoformat()
