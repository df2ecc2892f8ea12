"""Every label type's server-side checks: schema, task data and answers, each error naming its field."""
import pytest

from marketplace import labels
from marketplace.labels import LabelError

IMAGE = {"image": "a.jpg", "width": 100, "height": 80}


def error_of(call, *args):
    with pytest.raises(LabelError) as caught:
        call(*args)
    return caught.value.path, caught.value.message


def schema(**fields):
    return labels.validate_schema(fields)


def test_the_registry_knows_every_type_and_refuses_others():
    assert set(labels.TYPES) == {"classification", "multi_label", "bbox", "polygon", "spans", "transcription",
                                 "audio_segments", "numeric", "rating"}
    assert error_of(labels.validate_schema, {"type": "video"})[0] == ("type",)
    assert error_of(labels.validate_schema, {"type": "bbox", "classes": ["car"], "colour": "red"})[0] == ("colour",)


@pytest.mark.parametrize("fields, path", [
    ({"type": "bbox", "classes": []}, ("classes",)),
    ({"type": "bbox", "classes": ["car"], "iou_threshold": 0}, ("iou_threshold",)),
    ({"type": "bbox", "classes": ["car"], "min_boxes": 3, "max_boxes": 2}, ("min_boxes",)),
    ({"type": "polygon", "classes": ["a"], "max_points": 2}, ("max_points",)),
    ({"type": "spans", "classes": ["PER", "PER"]}, ("classes",)),
    ({"type": "spans", "classes": ["PER"], "allow_overlap": "yes"}, ("allow_overlap",)),
    ({"type": "multi_label", "classes": ["a", "b"], "max_labels": 3}, ("max_labels",)),
    ({"type": "numeric", "min": 5, "max": 5}, ("max",)),
    ({"type": "numeric", "max": 5}, ("min",)),
    ({"type": "rating", "min": 1.5, "max": 5}, ("min",)),
    ({"type": "numeric", "min": 0, "max": 1, "aggregation": "mode"}, ("aggregation",)),
    ({"type": "transcription", "max_length": 0}, ("max_length",)),
    ({"type": "classification", "classes": ["a", "b"], "gold_threshold": 1.5}, ("gold_threshold",)),
])
def test_bad_schemas_name_their_field(fields, path):
    assert error_of(labels.validate_schema, fields)[0] == path


@pytest.mark.parametrize("fields, data, path", [
    ({"type": "bbox", "classes": ["car"]}, {"image": "a.jpg", "height": 10}, ("data", "width")),
    ({"type": "polygon", "classes": ["car"]}, {"width": 0, "height": 10}, ("data", "width")),
    ({"type": "spans", "classes": ["PER"]}, {"body": "no text field"}, ("data", "text")),
    ({"type": "audio_segments", "classes": ["speech"]}, {"audio": "a.wav"}, ("data", "duration")),
    ({"type": "transcription"}, {"duration": 3}, ("data", "audio")),
    ({"type": "transcription"}, {"audio": "a.wav", "duration": -1}, ("data", "duration")),
])
def test_task_data_must_carry_what_answers_point_into(fields, data, path):
    assert error_of(labels.validate_task_data, schema(**fields), data)[0] == path


BOXES = schema(type="bbox", classes=["car", "person"], max_boxes=2)


@pytest.mark.parametrize("box, path, words", [
    ({"x": 90, "y": 0, "w": 20, "h": 10, "label": "car"}, ("boxes", "0", "w"), "outside the image"),
    ({"x": 0, "y": 75, "w": 20, "h": 10, "label": "car"}, ("boxes", "0", "h"), "outside the image"),
    ({"x": -1, "y": 0, "w": 20, "h": 10, "label": "car"}, ("boxes", "0", "x"), "at least 0"),
    ({"x": 0, "y": 0, "w": 0, "h": 10, "label": "car"}, ("boxes", "0", "w"), "greater than 0"),
    ({"x": 0, "y": 0, "w": 5, "h": 10, "label": "bus"}, ("boxes", "0", "label"), "classes"),
    ({"x": 0, "y": 0, "w": 5, "h": True, "label": "car"}, ("boxes", "0", "h"), "number"),
    ({"x": 0, "y": 0, "w": 5, "label": "car"}, ("boxes", "0", "h"), "missing"),
])
def test_box_checks(box, path, words):
    found_path, message = error_of(labels.validate_answer, BOXES, {"boxes": [box]}, IMAGE)
    assert found_path == path and words in message


def test_box_count_limits_and_a_clean_answer():
    one = {"x": 1, "y": 2, "w": 3, "h": 4, "label": "car"}
    assert error_of(labels.validate_answer, BOXES, {"boxes": [one] * 3}, IMAGE)[0] == ("boxes",)
    assert labels.validate_answer(BOXES, {"boxes": [one]}, IMAGE) == {"boxes": [{**one, "x": 1.0, "y": 2.0, "w": 3.0,
                                                                                 "h": 4.0}]}


POLYGONS = schema(type="polygon", classes=["cat"])


@pytest.mark.parametrize("points, path, words", [
    ([[0, 0], [10, 10], [10, 0], [0, 10]], ("polygons", "0", "points"), "not simple"),
    ([[0, 0], [10, 0], [20, 0]], ("polygons", "0", "points"), "no area"),
    ([[0, 0], [10, 0]], ("polygons", "0", "points"), "3 to"),
    ([[0, 0], [101, 0], [50, 50]], ("polygons", "0", "points", "1"), "at most 100"),
    ([[0, 0], [10, 0], [5]], ("polygons", "0", "points", "2"), "point"),
])
def test_polygon_checks(points, path, words):
    found_path, message = error_of(labels.validate_answer, POLYGONS, {"polygons": [{"points": points, "label": "cat"}]}, IMAGE)
    assert found_path == path and words in message


SPANS = schema(type="spans", classes=["PER", "LOC"])
TEXT = {"text": "Zoë met Bob in Oslo."}


@pytest.mark.parametrize("span, path, words", [
    ({"start": 15, "end": 25, "label": "LOC"}, ("spans", "0", "end"), "past the end"),
    ({"start": 5, "end": 5, "label": "PER"}, ("spans", "0", "end"), "greater than start"),
    ({"start": -1, "end": 3, "label": "PER"}, ("spans", "0", "start"), "at least 0"),
    ({"start": 0, "end": 3, "label": "ORG"}, ("spans", "0", "label"), "classes"),
    ({"start": 0, "end": 3.5, "label": "PER"}, ("spans", "0", "end"), "integer"),
    # "Bob" as a UTF-16 client would count it ("ë" is one code point: Python offsets 8:11)
    ({"start": 9, "end": 12, "label": "PER", "text": "Bob"}, ("spans", "0", "text"), "does not match"),
])
def test_span_checks(span, path, words):
    found_path, message = error_of(labels.validate_answer, SPANS, {"spans": [span]}, TEXT)
    assert found_path == path and words in message


def test_spans_overlap_only_when_the_schema_allows_it():
    overlapping = {"spans": [{"start": 8, "end": 11, "label": "PER"}, {"start": 0, "end": 11, "label": "PER"}]}
    assert "overlap" in error_of(labels.validate_answer, SPANS, overlapping, TEXT)[1]
    allowed = schema(type="spans", classes=["PER", "LOC"], allow_overlap=True)
    clean = labels.validate_answer(allowed, overlapping, TEXT)
    assert [(s["start"], s["end"]) for s in clean["spans"]] == [(0, 11), (8, 11)]  # sorted, "text" checked then dropped
    twice = {"spans": [{"start": 8, "end": 11, "label": "PER"}] * 2}
    assert "repeat" in error_of(labels.validate_answer, allowed, twice, TEXT)[1]
    assert labels.validate_answer(SPANS, {"spans": [{"start": 8, "end": 11, "label": "PER", "text": "Bob"}]}, TEXT) \
        == {"spans": [{"start": 8, "end": 11, "label": "PER"}]}


SEGMENTS = schema(type="audio_segments", classes=["speech", "music"])
CLIP = {"audio": "a.wav", "duration": 10}


@pytest.mark.parametrize("segments, path, words", [
    ([{"start": 5, "end": 4, "label": "speech"}], ("segments", "0", "end"), "after start"),
    ([{"start": 5, "end": 11, "label": "speech"}], ("segments", "0", "end"), "at most 10"),
    ([{"start": 1, "end": 4, "label": "speech"}, {"start": 3, "end": 6, "label": "music"}], ("segments",), "overlap"),
])
def test_segment_checks(segments, path, words):
    found_path, message = error_of(labels.validate_answer, SEGMENTS, {"segments": segments}, CLIP)
    assert found_path == path and words in message


def test_segments_of_one_class_never_overlap_even_where_overlaps_are_allowed():
    allowed = schema(type="audio_segments", classes=["speech", "music"], allow_overlap=True)
    across = {"segments": [{"start": 1, "end": 4, "label": "speech"}, {"start": 3, "end": 6, "label": "music"}]}
    assert len(labels.validate_answer(allowed, across, CLIP)["segments"]) == 2
    same = {"segments": [{"start": 1, "end": 4, "label": "speech"}, {"start": 3, "end": 6, "label": "speech"}]}
    assert error_of(labels.validate_answer, allowed, same, CLIP)[0] == ("segments",)


def test_transcription_numbers_and_label_sets():
    text = schema(type="transcription", max_length=10)
    assert labels.validate_answer(text, {"text": "  two \n words "}) == {"text": "two words"}
    assert error_of(labels.validate_answer, text, {"text": "x" * 11})[0] == ("text",)
    rating = schema(type="rating", min=1, max=5)
    assert error_of(labels.validate_answer, rating, {"value": 3.5})[0] == ("value",)
    assert error_of(labels.validate_answer, rating, {"value": 6})[0] == ("value",)
    assert labels.validate_answer(rating, {"value": 4.0}) == {"value": 4}
    numeric = schema(type="numeric", min=0, max=1)
    assert error_of(labels.validate_answer, numeric, {"value": float("nan")})[0] == ("value",)
    tags = schema(type="multi_label", classes=["a", "b", "c"], min_labels=1)
    assert labels.validate_answer(tags, {"labels": ["c", "a"]}) == {"labels": ["a", "c"]}  # in class order
    assert error_of(labels.validate_answer, tags, {"labels": []})[0] == ("labels",)
    assert error_of(labels.validate_answer, tags, {"labels": ["a", "z"]})[0] == ("labels", "1")
    assert error_of(labels.validate_answer, tags, {"labels": ["a", "a"]})[0] == ("labels",)


def test_pre_labels_are_for_classification_only():
    assert "classification" in error_of(labels.validate_prediction, BOXES, {"car": 1.0})[1]


@pytest.mark.parametrize("value", [10 ** 400, -(10 ** 400), 1e16, float("inf")])
def test_numbers_beyond_any_sensible_magnitude_are_refused_not_crashed_on(value):
    path, message = error_of(labels.validate_answer, BOXES, {"boxes": [{"x": value, "y": 0, "w": 1, "h": 1, "label": "car"}]},
                             IMAGE)
    assert path == ("boxes", "0", "x")
    assert error_of(labels.validate_schema, {"type": "numeric", "min": 0, "max": value})[0] == ("max",)


def test_polygon_images_and_answers_have_size_caps():
    assert error_of(labels.validate_task_data, POLYGONS, {"width": 100_000, "height": 100_000})[0] == ("data", "width")
    # 21 polygons of 500 points: each within its own cap, 10,500 points in all (the simple-polygon
    # check is quadratic per polygon: the answer-wide cap bounds the work in the submit request)
    many = [{"points": [[1, 1]] * 500, "label": "cat"}] * 21
    path, message = error_of(labels.validate_answer, POLYGONS, {"polygons": many}, IMAGE)
    assert path == ("polygons",) and "10000 points" in message


def test_span_classes_are_single_conll_columns():
    assert error_of(labels.validate_schema, {"type": "spans", "classes": ["New York"]})[0] == ("classes",)
