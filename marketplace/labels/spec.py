"""The answer of each label type as an OpenAPI schema, so generated clients get typed answers.

The server's checks (each type's `validate_answer`) remain the authority, with the project's classes
and the task's data; these schemas give the shape a client must build. `ANSWER` maps a schema
component name to its JSON schema and the label types that answer with it.
"""


def _items(key: str, item: dict, types: tuple[str, ...]) -> tuple[dict, tuple[str, ...]]:
    return ({"type": "object", "required": [key],
             "properties": {key: {"type": "array", "items": item}}}, types)


_CLASS = {"type": "string", "description": "one of the project's classes"}
_NUMBER = {"type": "number"}
_SPAN = {"type": "object", "required": ["start", "end", "label"], "properties": {
    "start": {"type": "integer", "minimum": 0}, "end": {"type": "integer", "minimum": 1}, "label": _CLASS,
    "text": {"type": "string", "description": "optional: must equal the text at the offsets"}}}

ANSWER = {
    "ClassificationAnswer": ({"type": "object", "required": ["label"],
                              "properties": {"label": _CLASS}}, ("classification",)),
    "MultiLabelAnswer": _items("labels", _CLASS, ("multi_label",)),
    "BoxesAnswer": _items("boxes", {"type": "object", "required": ["x", "y", "w", "h", "label"],
                                    "properties": {
                                        "x": _NUMBER, "y": _NUMBER, "w": _NUMBER, "h": _NUMBER, "label": _CLASS}},
                          ("bbox",)),
    "PolygonsAnswer": _items("polygons", {"type": "object", "required": ["points", "label"],
                                          "properties": {
                                              "points": {"type": "array", "minItems": 3, "items": {
                                                  "type": "array", "minItems": 2, "maxItems": 2, "items": _NUMBER}},
                                              "label": _CLASS}}, ("polygon",)),
    "SpansAnswer": _items("spans", _SPAN, ("spans",)),
    "TranscriptionAnswer": ({"type": "object", "required": ["text"],
                             "properties": {"text": {"type": "string"}}}, ("transcription",)),
    "SegmentsAnswer": _items("segments", {"type": "object", "required": ["start", "end", "label"],
                                          "properties": {
                                              "start": _NUMBER, "end": _NUMBER, "label": _CLASS}},
                             ("audio_segments",)),
    "NumericAnswer": ({"type": "object", "required": ["value"],
                       "properties": {"value": _NUMBER}}, ("numeric", "rating")),
}
