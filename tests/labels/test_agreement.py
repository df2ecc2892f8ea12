"""Agreement between two answers under each type's measure, against hand-computed values."""
import numpy as np
import pytest
from scipy import ndimage

from marketplace import labels
from marketplace.labels import raster
from marketplace.labels.transcription import word_error_rate

IMAGE = {"image": "a.jpg", "width": 100, "height": 100}


def agreement(schema, a, b, data=None):
    return labels.agreement(labels.validate_schema(schema), a, b, data)


def test_box_agreement_is_a_soft_f1_of_iou_matches():
    a = {"boxes": [{"x": 0, "y": 0, "w": 10, "h": 10, "label": "car"}, {"x": 50, "y": 50, "w": 10, "h": 10, "label": "car"}]}
    b = {"boxes": [{"x": 5, "y": 0, "w": 10, "h": 10, "label": "car"}]}
    # IoU of the overlapping pair: 50 / 150 = 1/3, below the 0.5 threshold -> no match
    assert agreement({"type": "bbox", "classes": ["car"]}, a, b) == 0.0
    # with a threshold of 0.3 it matches: 2 * (1/3) / (2 + 1)
    assert agreement({"type": "bbox", "classes": ["car"], "iou_threshold": 0.3}, a, b) == pytest.approx(2 / 9, abs=1e-6)
    # another class never matches
    c = {"boxes": [{"x": 0, "y": 0, "w": 10, "h": 10, "label": "person"}]}
    assert agreement({"type": "bbox", "classes": ["car", "person"]}, a, c) == 0.0
    assert agreement({"type": "bbox", "classes": ["car"]}, {"boxes": []}, {"boxes": []}) == 1.0


def test_polygon_agreement_is_pixel_iou():
    a = {"polygons": [{"points": [[0, 0], [10, 0], [10, 10], [0, 10]], "label": "cat"}]}
    b = {"polygons": [{"points": [[5, 0], [15, 0], [15, 10], [5, 10]], "label": "cat"}]}
    assert agreement({"type": "polygon", "classes": ["cat"]}, a, b, IMAGE) == pytest.approx(50 / 150, abs=1e-6)


def test_span_agreement_is_exact_match_f1():
    a = {"spans": [{"start": 0, "end": 3, "label": "PER"}, {"start": 4, "end": 7, "label": "LOC"}]}
    b = {"spans": [{"start": 0, "end": 3, "label": "PER"}, {"start": 4, "end": 6, "label": "LOC"},
                   {"start": 8, "end": 9, "label": "LOC"}]}
    assert agreement({"type": "spans", "classes": ["PER", "LOC"]}, a, b) == pytest.approx(2 * 1 / 5)


def test_transcription_agreement_is_one_minus_word_error_rate():
    # reference 6 words, one substitution, one deletion: WER 2/6
    assert word_error_rate("the cat sat on the mat", "the dog sat on mat") == pytest.approx(2 / 6)
    assert agreement({"type": "transcription"}, {"text": "the cat sat on the mat"}, {"text": "the dog sat on mat"}) \
        == pytest.approx(1 - 2 / 6, abs=1e-6)
    assert agreement({"type": "transcription"}, {"text": "Hello, World!"}, {"text": "hello world"}) == 1.0
    assert agreement({"type": "transcription", "case_sensitive": True}, {"text": "Hello"}, {"text": "hello"}) == 0.0


def test_segment_agreement_is_time_iou_over_classes():
    a = {"segments": [{"start": 0, "end": 4, "label": "speech"}, {"start": 5, "end": 6, "label": "music"}]}
    b = {"segments": [{"start": 2, "end": 6, "label": "speech"}]}
    # speech: 2 s shared of 6 s covered; music: 0 of 1 -> 2 / 7
    assert agreement({"type": "audio_segments", "classes": ["speech", "music"]}, a, b) == pytest.approx(2 / 7, abs=1e-6)


def test_numbers_label_sets_and_classes():
    assert agreement({"type": "numeric", "min": 0, "max": 50}, {"value": 10}, {"value": 20}) == pytest.approx(0.8)
    assert agreement({"type": "multi_label", "classes": ["a", "b", "c"]}, {"labels": ["a", "b"]}, {"labels": ["b", "c"]}) \
        == pytest.approx(1 / 3)
    assert agreement({"type": "multi_label", "classes": ["a", "b"]}, {"labels": []}, {"labels": []}) == 1.0
    assert agreement({"type": "classification", "classes": ["a", "b"]}, {"label": "a"}, {"label": "b"}) == 0.0


def test_gold_counts_as_right_from_the_schema_threshold():
    schema = labels.validate_schema({"type": "bbox", "classes": ["car"], "gold_threshold": 0.8})
    gold = {"boxes": [{"x": 0, "y": 0, "w": 10, "h": 10, "label": "car"}]}
    close = {"boxes": [{"x": 1, "y": 0, "w": 10, "h": 10, "label": "car"}]}  # IoU 90/110 = 0.818
    far = {"boxes": [{"x": 3, "y": 0, "w": 10, "h": 10, "label": "car"}]}  # IoU 70/130 = 0.538
    assert labels.agrees(schema, close, gold) and not labels.agrees(schema, far, gold)
    default = labels.validate_schema({"type": "bbox", "classes": ["car"]})  # 0.5
    assert labels.agrees(default, far, gold)


def test_rasterising_and_outlining_round_trip():
    square = np.array([[2.0, 3.0], [12.0, 3.0], [12.0, 8.0], [2.0, 8.0]])
    mask = raster.rasterise(square, (0, 0, 20, 20))
    assert mask.sum() == 50 and mask[3:8, 2:12].all()
    triangle = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    assert raster.rasterise(triangle, (0, 0, 10, 10)).sum() == 45  # pixel centres strictly under x + y = 10
    (points, area, _), = raster.outlines(mask, (0, 0, 20, 20))
    assert area == 50 and sorted(map(tuple, points)) == sorted([(2.0, 3.0), (12.0, 3.0), (12.0, 8.0), (2.0, 8.0)])
    # a window offsets everything
    (shifted, _, _), = raster.outlines(mask[3:8, 2:12], (3, 2, 5, 10))
    assert sorted(map(tuple, shifted)) == sorted(map(tuple, points))
    assert raster.self_intersection(np.array([[0, 0], [10, 10], [10, 0], [0, 10]], dtype=float)) == (0, 2)
    assert raster.self_intersection(square) is None


def test_an_outline_is_the_outer_boundary_even_around_a_longer_hole():
    mask = np.ones((9, 9), dtype=bool)
    mask[1, 1:8] = False  # a comb-shaped hole whose boundary is longer than the square's
    for column in (1, 3, 5, 7):
        mask[1:8, column] = False
    (points, area, _), = raster.outlines(mask, (0, 0, 9, 9))
    assert area == 50 and sorted(map(tuple, points)) == [(0.0, 0.0), (0.0, 9.0), (9.0, 0.0), (9.0, 9.0)]


def test_outlines_are_simple_and_cover_their_region_on_random_masks():
    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(400):
        mask = rng.random((8, 8)) < rng.uniform(0.3, 0.8)
        for points, area, (slices, piece) in raster.outlines(mask, (0, 0, 8, 8)):
            polygon = np.array(points)
            assert raster.self_intersection(polygon) is None  # pinch corners are pulled apart
            region = np.zeros_like(mask)
            region[slices] = piece
            # the outline covers the region and its holes (those not open to the outside, even diagonally)
            filled = ndimage.binary_fill_holes(region, structure=np.ones((3, 3)))
            assert (raster.rasterise(polygon, (0, 0, 8, 8)) == filled).all() and area == piece.sum()
            checked += 1
    assert checked > 1000
