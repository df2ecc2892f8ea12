"""Each type's trust-weighted aggregation on hand-made cases with known outcomes."""
import pytest

from marketplace import labels
from marketplace.labels import TaskAnswers, Vote

IMAGE = {"image": "a.jpg", "width": 200, "height": 100}


def aggregate(schema, data, answers, weights=None):
    schema = labels.validate_schema(schema)
    votes = [Vote(i, labels.validate_answer(schema, a, data), (weights or [1.0] * len(answers))[i])
             for i, a in enumerate(answers)]
    return labels.aggregate(schema, [TaskAnswers(1, data, votes)])[0]


def box(x, y, w, h, label="car"):
    return {"x": x, "y": y, "w": w, "h": h, "label": label}


def test_three_boxes_on_one_object_and_one_stray_box_give_one_box():
    result = aggregate({"type": "bbox", "classes": ["car"]}, IMAGE, [
        {"boxes": [box(10, 10, 40, 20)]},
        {"boxes": [box(12, 10, 40, 20), box(150, 60, 20, 20)]},  # the stray one
        {"boxes": [box(8, 12, 40, 20)]},
    ])
    assert result.method == "iou_cluster"
    assert result.label == {"boxes": [{"x": 10.0, "y": 10.67, "w": 40.0, "h": 20.0, "label": "car", "score": 1.0}]}
    assert 0.7 < result.confidence < 1.0  # the stray box costs the second answer some agreement


def test_a_box_needs_enough_trust_behind_it_and_classes_never_mix():
    answers = [{"boxes": [box(10, 10, 40, 20)]}, {"boxes": [box(10, 10, 40, 20, "person")]}, {"boxes": []}]
    # each box has a third of the weight: neither is kept
    assert aggregate({"type": "bbox", "classes": ["car", "person"]}, IMAGE, answers).label == {"boxes": []}
    # the first annotator's trust carries the car box
    heavy = aggregate({"type": "bbox", "classes": ["car", "person"]}, IMAGE, answers, weights=[2.0, 1.0, 0.5])
    assert [b["label"] for b in heavy.label["boxes"]] == ["car"] and heavy.label["boxes"][0]["score"] == pytest.approx(2 / 3.5)


def test_boxes_are_averaged_by_trust():
    result = aggregate({"type": "bbox", "classes": ["car"]}, IMAGE,
                       [{"boxes": [box(10, 10, 40, 20)]}, {"boxes": [box(14, 10, 40, 20)]}], weights=[3.0, 1.0])
    assert result.label["boxes"][0]["x"] == 11.0


def test_two_of_three_annotators_agreeing_on_a_span_keep_it():
    text = {"text": "Ada Lovelace lived in London."}
    result = aggregate({"type": "spans", "classes": ["PER", "LOC"]}, text, [
        {"spans": [{"start": 0, "end": 12, "label": "PER"}, {"start": 22, "end": 28, "label": "LOC"}]},
        {"spans": [{"start": 0, "end": 12, "label": "PER"}]},
        {"spans": [{"start": 0, "end": 3, "label": "PER"}]},
    ])
    assert result.label == {"spans": [{"start": 0, "end": 12, "label": "PER", "text": "Ada Lovelace", "score": 0.666667}]}
    # span F1 with the result: 2/3, 1, 0 -> mean 5/9
    assert result.confidence == pytest.approx(5 / 9, abs=1e-6)


def test_clashing_spans_keep_the_better_supported_one_when_overlaps_are_not_allowed():
    text = {"text": "New York City"}
    result = aggregate({"type": "spans", "classes": ["LOC"], "min_support": 0.3}, text, [
        {"spans": [{"start": 0, "end": 8, "label": "LOC"}]},
        {"spans": [{"start": 0, "end": 13, "label": "LOC"}]},
        {"spans": [{"start": 0, "end": 13, "label": "LOC"}]},
    ])
    assert [(s["start"], s["end"]) for s in result.label["spans"]] == [(0, 13)]


def square(x0, y0, x1, y1, label="cat"):
    return {"points": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]], "label": label}


def test_polygons_are_a_pixel_vote_with_one_outline_per_region():
    result = aggregate({"type": "polygon", "classes": ["cat"]}, IMAGE, [
        {"polygons": [square(10, 10, 30, 30)]},
        {"polygons": [square(12, 10, 32, 30)]},
        {"polygons": [square(10, 12, 30, 32), square(100, 50, 120, 70)]},  # a stray region only one drew
    ])
    assert result.method == "pixel_vote" and len(result.label["polygons"]) == 1
    shape = result.label["polygons"][0]
    # pixels two of the three cover: the 20x20 square minus the 2x2 corner only the first drew
    assert shape["area"] == 396
    assert sorted(map(tuple, shape["points"])) == sorted([(12.0, 10.0), (30.0, 10.0), (30.0, 30.0), (10.0, 30.0),
                                                          (10.0, 12.0), (12.0, 12.0)])


def test_the_transcription_is_the_weighted_medoid():
    clip = {"audio": "a.wav"}
    answers = [{"text": "the cat sat on the mat"}, {"text": "The cat sat on the mat."}, {"text": "a cat sat on a hat"}]
    result = aggregate({"type": "transcription"}, clip, answers)
    assert result.label == {"text": "the cat sat on the mat"} and result.method == "weighted_medoid"
    # agreement with the medoid: 1, 1 (case and punctuation ignored), 1 - 3/6
    assert result.confidence == pytest.approx((1 + 1 + 0.5) / 3)
    trusted = aggregate({"type": "transcription"}, clip, answers, weights=[0.1, 0.1, 1.0])
    assert trusted.label == {"text": "a cat sat on a hat"}


def test_segments_are_voted_stretch_by_stretch_and_merged():
    clip = {"audio": "a.wav", "duration": 10}
    result = aggregate({"type": "audio_segments", "classes": ["speech", "music"]}, clip, [
        {"segments": [{"start": 0, "end": 4, "label": "speech"}]},
        {"segments": [{"start": 1, "end": 5, "label": "speech"}, {"start": 6, "end": 8, "label": "music"}]},
        {"segments": [{"start": 0.5, "end": 4.5, "label": "speech"}]},
    ])
    assert [(s["start"], s["end"], s["label"]) for s in result.label["segments"]] == [(0.5, 4.5, "speech")]


def test_numbers_take_the_weighted_median_and_ratings_stay_whole():
    values = [{"value": 10}, {"value": 11}, {"value": 95}]
    result = aggregate({"type": "numeric", "min": 0, "max": 100}, {}, values)
    assert result.label == {"value": 11.0} and result.method == "weighted_median"
    mean = aggregate({"type": "numeric", "min": 0, "max": 100, "aggregation": "mean"}, {}, values)
    assert mean.label == {"value": pytest.approx(38.666667)}
    rating = aggregate({"type": "rating", "min": 1, "max": 5}, {}, [{"value": 4}, {"value": 5}, {"value": 4}])
    assert rating.label == {"value": 4}
    assert rating.confidence == pytest.approx((1 + 0.75 + 1) / 3)


def test_multi_label_runs_the_binary_truth_model_per_class_across_tasks():
    schema = labels.validate_schema({"type": "multi_label", "classes": ["a", "b", "c"]})
    tasks = []
    for t in range(30):  # annotator 2 tags "c" on everything; the others tag the truth {"a"} or {"b"}
        truth = ["a"] if t % 2 else ["b"]
        votes = [Vote(0, {"labels": truth}, 1.0), Vote(1, {"labels": truth}, 1.0), Vote(2, {"labels": truth + ["c"]}, 1.0)]
        tasks.append(TaskAnswers(t, {}, votes))
    results = labels.aggregate(schema, tasks)
    assert all(r.method == "auto_binary" for r in results)
    assert [r.label["labels"] for r in results[:2]] == [["b"], ["a"]]
    assert all(r.posterior[2] < 0.5 for r in results)  # one over-tagger does not put "c" in
    assert labels.aggregate(schema, [TaskAnswers(0, {}, [])]) == [None]


def test_classification_aggregates_by_weighted_vote():
    result = aggregate({"type": "classification", "classes": ["cat", "dog"]}, {},
                       [{"label": "dog"}, {"label": "cat"}, {"label": "cat"}], weights=[3.0, 1.0, 1.0])
    assert result.label == "dog" and result.posterior == [0.4, 0.6] and not result.tie


def test_multi_label_is_sure_of_tags_everybody_agrees_on_however_many_tasks_share_the_batch():
    schema = labels.validate_schema({"type": "multi_label", "classes": ["a", "b", "c"]})

    def unanimous(t):
        return TaskAnswers(t, {}, [Vote(w, {"labels": ["a"]}, 1.0) for w in range(3)])

    alone = labels.aggregate(schema, [unanimous(0)])[0]
    batch = labels.aggregate(schema, [unanimous(t) for t in range(40)])
    for result in batch:
        assert result.label == {"labels": ["a"]}
        assert result.posterior[0] > 0.95 and max(result.posterior[1:]) < 0.05 and result.confidence > 0.9
    # A batch of one task says nothing yet about how good these three are: sure, but less so.
    assert alone.label == {"labels": ["a"]}
    assert alone.posterior[0] > 0.85 and max(alone.posterior[1:]) < 0.15 and alone.confidence > 0.7


def test_with_two_equal_annotators_what_only_one_drew_is_not_kept():
    two = aggregate({"type": "bbox", "classes": ["car"]}, IMAGE,
                    [{"boxes": [box(10, 10, 40, 20)]}, {"boxes": [box(120, 50, 40, 20)]}])
    assert two.label == {"boxes": []}
    squares = aggregate({"type": "polygon", "classes": ["cat"]}, IMAGE,
                        [{"polygons": [square(0, 0, 50, 50)]}, {"polygons": [square(25, 25, 75, 75)]}])
    assert [p["area"] for p in squares.label["polygons"]] == [625]  # only where both drew: the overlap
    clip = {"audio": "a.wav", "duration": 10}
    segments = aggregate({"type": "audio_segments", "classes": ["speech"]}, clip,
                         [{"segments": [{"start": 0, "end": 4, "label": "speech"}]},
                          {"segments": [{"start": 2, "end": 6, "label": "speech"}]}])
    assert segments.label == {"segments": [{"start": 2.0, "end": 4.0, "label": "speech", "score": 1.0}]}


def test_an_averaged_box_never_leaves_the_image():
    edge = {"image": "a.jpg", "width": 100.0, "height": 50.0}
    result = aggregate({"type": "bbox", "classes": ["car"]}, edge,
                       [{"boxes": [box(33.333, 10, 66.667, 20)]}, {"boxes": [box(33.334, 10, 66.666, 20)]},
                        {"boxes": [box(33.334, 10, 66.666, 20)]}])
    (found,) = result.label["boxes"]
    assert found["x"] + found["w"] <= 100.0
