"""Result schemas."""
from marshmallow import Schema, fields, validate

from marketplace.pagination import PageArgs, page_schema, updated_since

EXPORT_FORMATS = ("jsonl", "csv", "coco", "yolo", "conll", "spacy", "spacy-jsonl", "manifest")


class ResultAnswerOut(Schema):
    annotator = fields.String(metadata={"description": "pseudonymous annotator id, stable within the project"})
    label = fields.Raw()
    guideline_version = fields.Integer(metadata={"description": "the instructions version the answer was given under"})


class ResultOut(Schema):
    task_id = fields.Integer()
    external_id = fields.String()
    label = fields.Raw(metadata={"description": "classification: the class; other types: an answer-shaped object "
                                             "(boxes, polygons, spans, text, segments, value, labels)"})
    confidence = fields.Float()
    method = fields.String()
    answer_count = fields.Integer()
    tie = fields.Boolean(metadata={"description": "the vote was tied; the class listed first in the schema won"})
    gold = fields.Boolean(metadata={"description": "a gold task: label is its known answer"})
    posterior = fields.List(fields.Float(), allow_none=True, metadata={
        "description": "per class, in schema order (classification: the class; multi_label: the class being present)"})
    guideline_version = fields.Integer(allow_none=True, metadata={"description": "newest guideline version of the answers"})
    answers = fields.List(fields.Nested(ResultAnswerOut))


ResultPageOut = page_schema(ResultOut, "ResultPageOut")


class ExportArgs(Schema):
    format = fields.String(load_default="jsonl", validate=validate.OneOf(EXPORT_FORMATS), metadata={
        "description": "jsonl and csv for every project; coco and yolo (zip) for bbox and polygon; conll (zip of "
                       "results.conll and provenance.jsonl), spacy (a DocBin, needs the server's spacy extra) and "
                       "spacy-jsonl for spans; manifest for transcription"})
    val_fraction = fields.Float(validate=validate.Range(min=0, max=1), metadata={
        "description": "format=yolo: the share of images in the validation split (default 0.2). A task's split is "
                       "a hash of split_seed and its id: the same on every export. When no image is held out (0, or "
                       "a small project), data.yaml validates on the training list and says so"})
    split_seed = fields.Integer(validate=validate.Range(min=0, max=2 ** 31 - 1), metadata={
        "description": "format=yolo: the seed of the train/val split (default 0); another seed, another split"})
    lang = fields.String(validate=validate.Regexp(r"^[a-z]{2,3}$", error="must be a language code of two or three "
                                                  "lower-case letters (en, de, ...)"), metadata={
        "description": "format=spacy: the language whose spaCy tokenizer splits the texts (default en); one spaCy "
                       "does not know is a 422"})


class ResultListArgs(PageArgs):
    updated_since = updated_since(metadata={"description": "only results written or changed at or after this time "
                                                           "(a new answer, a recompute, a review)"})


class CalibrationOut(Schema):
    correlation = fields.Float(metadata={
        "description": "the correlation of answers on one task: n answers weigh as 1 + (n - 1) x correlation"})
    temperature = fields.Float(metadata={"description": "a scale on the answers' evidence (1: as fitted)"})
    label_noise = fields.Float(metadata={"description": "the share of reference labels unrelated to the answers"})
    gold = fields.Integer(metadata={"description": "gold tasks the calibration was fitted on (0: none, the identity)"})
    # Stored before the anchor was recorded: fitted leaning on the priors (Calibration.from_dict).
    anchor = fields.String(dump_default="prior", metadata={
        "description": "what the tempering and the label noise lean towards: uniform (no task changes label), or "
                       "prior (the class priors: the per-answer calibration, and any stored before this field)"})


class TruthModelOut(Schema):
    method = fields.String(metadata={"description": "what results name: auto:<the blend's leading model>"})
    weights = fields.Dict(keys=fields.String(), values=fields.Float(),
                          metadata={"description": "each blended model's weight (stacking on held-out answers)"})
    calibration = fields.Nested(CalibrationOut, metadata={"description": "how the results' posteriors were calibrated"})
    incremental_calibration = fields.Nested(CalibrationOut, metadata={
        "description": "how the per-answer posteriors (between recomputes) are calibrated"})


class RecomputeOut(Schema):
    id = fields.Integer(allow_none=True)
    status = fields.String(metadata={
        "description": "queued, running, writing (a large run's results being merged in chunks), finished, failed or "
                       "skipped; none before the first"})
    reason = fields.String(allow_none=True, metadata={
        "description": "periodic, answers (enough arrived since the last run), completed (the project's last run), "
                       "requested, lost_chunks (a run's staged results were lost) or job (a large run a job started on its own); null "
                       "before the first"})
    percent = fields.Float(allow_none=True)
    stage = fields.String(allow_none=True)
    queued_at = fields.DateTime(allow_none=True)
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    seconds = fields.Float(allow_none=True)
    answers = fields.Integer(allow_none=True)
    annotators = fields.Integer(allow_none=True)
    iterations = fields.Integer(allow_none=True)
    results_written = fields.Integer(allow_none=True)
    tasks_reopened = fields.Integer(allow_none=True)
    model = fields.Nested(TruthModelOut, allow_none=True, metadata={"description": "the truth model the run chose"})
    error = fields.String(allow_none=True)
    chunks_total = fields.Integer(allow_none=True, metadata={
        "description": "a large run's results are merged in this many chunks, a job each; null: written in one go"})
    chunks_done = fields.Integer(allow_none=True, metadata={"description": "chunks merged so far"})
    heartbeat_at = fields.DateTime(allow_none=True, metadata={"description": "when the last chunk was merged"})
