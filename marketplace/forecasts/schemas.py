"""The forecast's JSON form."""
from marshmallow import Schema, fields


class SpreadOut(Schema):
    expected = fields.Float(metadata={"description": "the median"})
    low = fields.Float(metadata={"description": "the interval's lower end (5% quantile at level 0.9)"})
    high = fields.Float(metadata={"description": "the interval's upper end (95% quantile at level 0.9)"})


class WholeSpreadOut(Schema):
    expected = fields.Integer()
    low = fields.Integer()
    high = fields.Integer()


class PaceOut(Schema):
    window_hours = fields.Float(metadata={"description": "the last 24 hours, or the time since publishing if shorter"})
    answers_in_window = fields.Integer(metadata={"description": "ordinary (non-gold) answers submitted in the window"})
    answers_per_hour = fields.Nested(SpreadOut, allow_none=True, metadata={"description": "null before publishing"})


class CompletionOut(Schema):
    expected_at = fields.DateTime(metadata={"description": "when the last answer is expected (the median)"})
    earliest = fields.DateTime()
    latest = fields.DateTime()
    hours = fields.Nested(SpreadOut, metadata={"description": "hours from as_of to the last answer"})


class CostOut(Schema):
    currency = fields.String()
    answer_cost_cents = fields.Integer(metadata={"description": "reward plus the platform fee, per answer"})
    spent_cents = fields.Integer(metadata={"description": "submitted answers (not rejected), bonuses and fees so far"})
    remaining_cents = fields.Nested(WholeSpreadOut, metadata={
        "description": "the remaining answers and the gold answers that come with them, at answer_cost_cents"})
    expected_total_cents = fields.Integer()
    budget_cents = fields.Integer(allow_none=True, metadata={"description": "the project's cap; null without one"})
    escrow_cents = fields.Integer(metadata={"description": "what is funded and not yet paid out"})


class BudgetOut(Schema):
    runs_out = fields.Boolean(metadata={"description": "the expected remaining cost exceeds what is left"})
    limited_by = fields.String(metadata={"description": "escrow or budget: whichever leaves less"})
    left_cents = fields.Integer()
    shortfall_cents = fields.Integer(metadata={"description": "expected remaining cost minus what is left, or 0"})
    runs_out_at = fields.DateTime(allow_none=True, metadata={"description": "when the money is expected to run out"})


class ForecastOut(Schema):
    project_id = fields.Integer()
    status = fields.String()
    as_of = fields.DateTime()
    level = fields.Float(metadata={"description": "the coverage of every interval here (0.9)"})
    open_tasks = fields.Integer()
    remaining_answers = fields.Nested(WholeSpreadOut, metadata={
        "description": "ordinary answers the open tasks still need (under the redundancy policy: as closed tasks ended)"})
    pace = fields.Nested(PaceOut)
    completion = fields.Nested(CompletionOut, allow_none=True, metadata={
        "description": "null while nothing was answered in the window (no pace to go by) or before publishing"})
    cost = fields.Nested(CostOut)
    budget = fields.Nested(BudgetOut)
