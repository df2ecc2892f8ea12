import numpy as np
import pytest

from marketplace.inference import encode_answers, encode_ids


def test_string_ids_round_trip_and_sort():
    codes, uniques = encode_ids(["b", "a", "c", "a"])
    assert codes.tolist() == [1, 0, 2, 0]
    assert uniques[codes].tolist() == ["b", "a", "c", "a"]


def test_int_ids_round_trip_including_large_ids():
    ids = np.array([10**12, 5, 5, 7])
    codes, uniques = encode_ids(ids)
    assert uniques[codes].tolist() == ids.tolist()
    small = np.array([3, 1, 3, 0])
    codes, uniques = encode_ids(small)
    assert codes.tolist() == [2, 1, 2, 0] and uniques.tolist() == [0, 1, 3]


def test_duplicate_answers_keep_the_last_and_are_counted():
    enc = encode_answers(["t1", "t1", "t2", "t1"], ["u", "u", "u", "v"], ["x", "y", "x", "x"])
    assert enc.n_duplicates == 1
    kept = {(enc.task_ids[t], enc.annotator_ids[a]): enc.label_ids[lab]
            for t, a, lab in zip(enc.task_idx, enc.annotator_idx, enc.label_idx)}
    assert kept[("t1", "u")] == "y"
    assert len(kept) == 3


def test_label_set_fixes_order_and_rejects_unknown_labels():
    enc = encode_answers([1, 2], ["a", "b"], ["no", "yes"], label_set=["yes", "no", "maybe"])
    assert enc.K == 3 and enc.decode_labels(enc.label_idx).tolist() == ["no", "yes"]
    with pytest.raises(ValueError, match="label 'perhaps' is not in the label set"):
        encode_answers([1], ["a"], ["perhaps"], label_set=["yes", "no"])


def test_gold_is_encoded_and_contradicting_gold_is_named():
    enc = encode_answers(["t1", "t2"], ["a", "a"], ["x", "y"])
    assert enc.encode_gold({"t2": "x", "unknown-task": "y"}) == {1: 0}
    with pytest.raises(ValueError, match="gold label 'z' for task 't1'"):
        enc.encode_gold({"t1": "z"})


def test_empty_answers_are_rejected():
    with pytest.raises(ValueError, match="no answers"):
        encode_answers([], [], [])
