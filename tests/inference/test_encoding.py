import numpy as np
import pytest

from marketplace.inference import encode_answers, encode_coded_answers, encode_ids


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


@pytest.mark.parametrize("grouped", [True, False])
def test_string_and_int_ids_of_the_same_data_encode_alike(grouped):
    rng = np.random.default_rng(7)
    tasks = np.repeat(rng.permutation(3000), 3) if grouped else rng.integers(0, 3000, 9000)
    annotators = rng.integers(0, 40, tasks.size)
    labels = rng.integers(0, 4, tasks.size)
    as_int = encode_answers(tasks, annotators, labels)
    # Zero-padded, so sorting the strings sorts the numbers: the codes must then be identical.
    as_str = encode_answers([f"task-{t:05d}" for t in tasks], [f"ann-{a:03d}" for a in annotators],
                            [f"class-{k}" for k in labels])
    assert as_str.n_duplicates == as_int.n_duplicates > 0
    for field in ("task_idx", "annotator_idx", "label_idx"):
        assert getattr(as_str, field).tolist() == getattr(as_int, field).tolist()
    assert as_str.task_ids.tolist() == [f"task-{t:05d}" for t in as_int.task_ids.tolist()]
    assert as_str.decode_labels(as_str.label_idx).tolist() == [
        f"class-{k}" for k in as_int.decode_labels(as_int.label_idx).tolist()]


@pytest.mark.parametrize("repeats", [1, 4])  # 4: long runs of equal neighbours
def test_codes_are_sorted_ids_or_first_appearance_when_incomparable(repeats):
    ids = ["t7", "t10", "t2", "t7", "t10"] * 300
    codes, uniques = encode_ids(np.repeat(np.array(ids, dtype=object), repeats))
    assert uniques.tolist() == ["t10", "t2", "t7"]
    assert uniques[codes].tolist() == np.repeat(ids, repeats).tolist()
    mixed = [3, "b", 1.5, "b", 3, None] * 300
    codes, uniques = encode_ids(np.repeat(np.array(mixed, dtype=object), repeats))
    assert uniques.tolist() == [3, "b", 1.5, None]
    assert codes.tolist() == np.repeat([0, 1, 2, 1, 0, 3] * 300, repeats).tolist()
    # Equal ids of different types are one id, shown as the first one met (as a dict key is).
    codes, uniques = encode_ids(np.repeat(np.array([1.0, 1, True, 2] * 300, dtype=object), repeats))
    assert uniques.tolist() == [1.0, 2] and type(uniques[0]) is float


def test_coded_labels_pass_through_and_ids_in_a_dense_range_are_coded_from_their_minimum():
    tasks = np.array([1_000_007, 1_000_003, 1_000_007, 1_000_005])
    found = encode_coded_answers(tasks, np.array([9, 9, 4, 4]), np.array([2, 0, 1, 2]), ["a", "b", "c"])
    assert found.task_ids.tolist() == [1_000_003, 1_000_005, 1_000_007]
    assert found.task_idx.tolist() == [2, 0, 2, 1] and found.annotator_idx.tolist() == [1, 1, 0, 0]
    assert found.label_idx.tolist() == [2, 0, 1, 2] and found.label_ids.tolist() == ["a", "b", "c"]
    with pytest.raises(ValueError, match="outside the label set"):
        encode_coded_answers(tasks, np.array([9, 9, 4, 4]), np.array([2, 0, 3, 2]), ["a", "b", "c"])


def test_coded_answers_drop_duplicates_unless_the_caller_vouches_there_are_none():
    tasks, annotators, labels = np.array([1, 1, 2]), np.array([5, 5, 5]), np.array([0, 1, 1])
    checked = encode_coded_answers(tasks, annotators, labels, ["a", "b"])
    assert checked.n_duplicates == 1 and checked.label_idx.tolist() == [1, 1]  # the last answer stays
    trusted = encode_coded_answers(tasks, annotators, labels, ["a", "b"], unique_pairs=True)
    assert trusted.n_duplicates == 0 and trusted.task_idx.size == 3
