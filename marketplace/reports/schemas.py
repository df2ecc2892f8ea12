"""The reports' query arguments and their JSON form (the same figures the HTML pages draw)."""
from marshmallow import Schema, fields, validate

FORMATS = ("html", "json")


class ReportFormatArgs(Schema):
    format = fields.String(load_default="html", validate=validate.OneOf(FORMATS), metadata={
        "description": "html (default): a self-contained page with the plots as inline SVG; json: the same figures"})


class MarketplaceReportArgs(ReportFormatArgs):
    days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=366), metadata={
        "description": "how many UTC days, today included, the report covers"})


# -- project report


class ReportDayOut(Schema):
    day = fields.String(metadata={"format": "date", "description": "a UTC day"})
    answers = fields.Integer()
    gold_seen = fields.Integer()
    gold_correct = fields.Integer()
    gold_accuracy = fields.Float(allow_none=True, metadata={"description": "gold_correct / gold_seen; null without gold"})


class ReportAnswerCountOut(Schema):
    answers = fields.Integer(metadata={"description": "answers on a task"})
    tasks = fields.Integer(metadata={"description": "how many tasks (gold left out) have that many"})


class ReportRedundancyOut(Schema):
    policy = fields.String(metadata={"description": "adaptive (target_confidence set) or fixed"})
    fixed_redundancy = fields.Integer(metadata={"description": "the project's answers_per_task"})
    target_confidence = fields.Float(allow_none=True)
    finished_tasks = fields.Integer(metadata={"description": "closed and escalated tasks"})
    answers_used = fields.Integer()
    answers_at_fixed_redundancy = fields.Integer()
    answers_saved = fields.Integer(metadata={"description": "negative when the policy asked for more than fixed"})
    saved_cents = fields.Integer()
    currency = fields.String()


class ReportConfusionOut(Schema):
    applicable = fields.Boolean(metadata={"description": "false for label types without classes"})
    classes = fields.List(fields.String())
    counts = fields.List(fields.List(fields.Integer()), metadata={
        "description": "rows: the inferred result label; columns: the crowd's answer"})
    rates = fields.List(fields.List(fields.Float()), metadata={"description": "counts divided by their row's total"})
    answers = fields.Integer(metadata={"description": "answers counted (non-gold, on tasks with a result, sampled)"})


class ReportAgreementPointOut(Schema):
    bucket = fields.String(metadata={"format": "date", "description": "the day, or the Monday of the week, the tasks got their last answer"})
    tasks = fields.Integer(metadata={"description": "tasks with two or more answers in the bucket"})
    krippendorff_alpha = fields.Float(allow_none=True)
    fleiss_kappa = fields.Float(allow_none=True)


class ReportAgreementOverTimeOut(Schema):
    applicable = fields.Boolean()
    bucket = fields.String(allow_none=True, metadata={"description": "day or week"})
    points = fields.List(fields.Nested(ReportAgreementPointOut))


class ReportAgreementOut(Schema):
    answers = fields.Integer()
    krippendorff_alpha = fields.Float(allow_none=True)
    fleiss_kappa = fields.Float(allow_none=True)
    percent_agreement = fields.Float(allow_none=True)
    sampled = fields.Boolean(metadata={"description": "true when only a sample of the answers was read"})


class ReportBinOut(Schema):
    low = fields.Float()
    high = fields.Float()
    count = fields.Integer()


class ReportDistributionOut(Schema):
    annotators = fields.Integer()
    mean = fields.Float(allow_none=True)
    median = fields.Float(allow_none=True)
    histogram = fields.List(fields.Nested(ReportBinOut))


class ReportTrustOut(Schema):
    weight = fields.Nested(ReportDistributionOut, metadata={"description": "aggregation weight in this project"})
    ds_accuracy = fields.Nested(ReportDistributionOut, metadata={"description": "accuracy from the last recompute"})
    reputation = fields.Nested(ReportDistributionOut, metadata={"description": "global gold-based reputation"})
    blocked = fields.Integer()


class ReportCostOut(Schema):
    currency = fields.String()
    approved_answers = fields.Integer(metadata={"description": "submitted answers approved (gold ones included: they are paid too)"})
    pending_answers = fields.Integer(metadata={"description": "submitted answers awaiting approval: counted, since "
                                                              "their reward is paid unless they are rejected"})
    rewards_cents = fields.Integer()
    bonuses_cents = fields.Integer()
    fees_cents = fields.Integer()
    total_cents = fields.Integer()
    accepted_labels = fields.Integer(metadata={"description": "closed tasks"})
    per_accepted_label_cents = fields.Float(allow_none=True, metadata={"description": "total / accepted labels"})


class ReportSlowTaskOut(Schema):
    task_id = fields.Integer()
    external_id = fields.String()
    seconds_to_close = fields.Float(allow_none=True)
    answers = fields.Integer()
    mean_answer_seconds = fields.Float(allow_none=True)


class ReportDisputedTaskOut(Schema):
    task_id = fields.Integer()
    external_id = fields.String()
    disputes = fields.Integer()
    overturned = fields.Integer()
    upheld = fields.Integer()
    open = fields.Integer()


class ProjectReportOut(Schema):
    project_id = fields.Integer()
    name = fields.String()
    status = fields.String()
    label_type = fields.String()
    truth_method = fields.String(allow_none=True)
    generated_at = fields.DateTime()
    tasks = fields.Integer(metadata={"description": "tasks, gold left out"})
    gold_tasks = fields.Integer()
    closed_tasks = fields.Integer()
    escalated_tasks = fields.Integer()
    answers = fields.Integer()
    annotators = fields.Integer()
    gold_accuracy = fields.Float(allow_none=True)
    agreement = fields.Nested(ReportAgreementOut)
    answers_by_day = fields.List(fields.Nested(ReportDayOut))
    answers_per_task = fields.List(fields.Nested(ReportAnswerCountOut))
    redundancy = fields.Nested(ReportRedundancyOut)
    confusion = fields.Nested(ReportConfusionOut)
    agreement_over_time = fields.Nested(ReportAgreementOverTimeOut)
    trust = fields.Nested(ReportTrustOut)
    cost = fields.Nested(ReportCostOut)
    slowest_tasks = fields.List(fields.Nested(ReportSlowTaskOut))
    most_disputed_tasks = fields.List(fields.Nested(ReportDisputedTaskOut))


# -- marketplace report


class ReportThroughputDayOut(Schema):
    day = fields.String(metadata={"format": "date", "description": "a UTC day"})
    answers = fields.Integer()
    tasks_closed = fields.Integer()
    projects_created = fields.Integer()
    projects_published = fields.Integer()


class ReportMoneyDayOut(Schema):
    day = fields.String(metadata={"format": "date", "description": "a UTC day"})
    kind = fields.String(metadata={"description": "ledger movement type (funding, escrow, answer, approval, ...)"})
    currency = fields.String()
    amount_cents = fields.Integer()
    movements = fields.Integer()


class ReportMoneyTotalOut(Schema):
    kind = fields.String()
    currency = fields.String()
    amount_cents = fields.Integer()
    movements = fields.Integer()


class ReportMoneyOut(Schema):
    by_day = fields.List(fields.Nested(ReportMoneyDayOut))
    totals = fields.List(fields.Nested(ReportMoneyTotalOut))


class ReportDisputeDayOut(Schema):
    day = fields.String(metadata={"format": "date", "description": "a UTC day"})
    opened = fields.Integer()
    resolved = fields.Integer()
    overturned = fields.Integer()


class ReportDisputesOut(Schema):
    opened = fields.Integer(metadata={"description": "opened in the window"})
    still_open = fields.Integer(metadata={"description": "of those, not resolved yet"})
    upheld = fields.Integer()
    overturned = fields.Integer()
    open_now = fields.Integer(metadata={"description": "open disputes, whenever opened"})
    median_hours_to_resolve = fields.Float(allow_none=True)
    by_day = fields.List(fields.Nested(ReportDisputeDayOut))


class MarketplaceReportOut(Schema):
    generated_at = fields.DateTime()
    since = fields.DateTime()
    days = fields.Integer()
    throughput = fields.List(fields.Nested(ReportThroughputDayOut))
    money = fields.Nested(ReportMoneyOut)
    disputes = fields.Nested(ReportDisputesOut)
