import numpy as np
import pytest

from marketplace.inference import cohens_kappa, fleiss_kappa, krippendorff_alpha, percent_agreement

NAN = np.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers,
# 12 units, missing values.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]
# Fleiss (1971) as reproduced on Wikipedia "Fleiss' kappa": 10 subjects, 14 raters, 5 categories.
FLEISS = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
          [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]


@pytest.mark.parametrize("level, expected",
                         [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_krippendorff_alpha_matches_the_2011_worked_example(level, expected):
    assert krippendorff_alpha(KRIPPENDORFF_2011, level) == pytest.approx(expected, abs=5e-4)


def test_fleiss_kappa_matches_the_literature():
    assert fleiss_kappa(FLEISS) == pytest.approx(0.210, abs=5e-4)


def test_cohens_kappa_matches_the_wikipedia_example():
    # 50 proposals: yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> p_o 0.7, p_e 0.5, kappa 0.4.
    a = [0] * 25 + [1] * 25
    b = [0] * 20 + [1] * 5 + [0] * 10 + [1] * 15
    assert cohens_kappa(a, b) == pytest.approx(0.4)


def test_percent_agreement_counts_agreeing_pairs():
    assert percent_agreement([[3, 0], [2, 1]]) == pytest.approx((1 + 1 / 3) / 2)


def test_alpha_rejects_unknown_levels_and_unpairable_data():
    with pytest.raises(ValueError, match="level"):
        krippendorff_alpha(KRIPPENDORFF_2011, "ratio-ish")
    with pytest.raises(ValueError, match="pairable"):
        krippendorff_alpha([[1, NAN], [NAN, 2]])


def test_alpha_from_counts_equals_alpha_from_the_coder_matrix():
    from marketplace.inference import krippendorff_alpha, krippendorff_alpha_counts

    data = np.array([[0, 1, 1, np.nan], [0, 1, 0, 2], [np.nan, 1, 1, 2]], dtype=float)
    counts = np.array([[2, 0, 0], [0, 3, 0], [1, 2, 0], [0, 0, 2]])
    assert krippendorff_alpha_counts(counts) == pytest.approx(krippendorff_alpha(data))
