"""Truth inference: from many noisy answers per task to one label, with calibrated posteriors.

Pure numpy/scipy; imports nothing of the web app. Methods take integer-coded answers
(`task_idx`, `annotator_idx`, `label_idx`, one row per answer) and `K`; `encode_answers` turns
arbitrary ids into those codes and back.
"""

from __future__ import annotations

from .bcc import ebcc, ibcc
from .community import community_dawid_skene
from .agreement import (cohens_kappa, fleiss_kappa, krippendorff_alpha, krippendorff_alpha_counts,
                        percent_agreement)
from .dawid_skene import dawid_skene, one_coin_dawid_skene, prior_confusion
from .dawid_skene_auto import dawid_skene_auto
from .encoding import EncodedAnswers, encode_answers, encode_coded_answers, encode_ids
from .glad import glad
from .incremental import task_posterior
from .mace import mace
from .mace_cm import mace_cm
from .numeric import NumericResult, numeric_mean, numeric_median, numeric_with_bias, weighted_mean, weighted_median
from .result import InferenceResult
from .stacking import auto
from .voting import majority_vote, wawa, weighted_vote

METHODS = {
    "mv": majority_vote,
    "wawa": wawa,
    "ds": dawid_skene,
    "ds_auto": dawid_skene_auto,
    "cds": community_dawid_skene,
    "one_coin": one_coin_dawid_skene,
    "glad": glad,
    "mace": mace,
    "mace_cm": mace_cm,
    "ibcc": ibcc,
    "ebcc": ebcc,
    "auto": auto,
}
DEFAULT_METHOD = "auto"


def infer(task_idx, annotator_idx, label_idx, K, *, method: str = DEFAULT_METHOD, **options):
    """Run categorical truth inference with `method` (default: the stacked, calibrated blend `auto`)."""
    try:
        fn = METHODS[method]
    except KeyError:
        raise ValueError(f"unknown method {method!r}; choose one of {sorted(METHODS)}") from None
    return fn(task_idx, annotator_idx, label_idx, K, **options)


__all__ = [
    "DEFAULT_METHOD", "METHODS", "EncodedAnswers", "InferenceResult", "NumericResult",
    "auto", "cohens_kappa", "community_dawid_skene", "dawid_skene", "dawid_skene_auto", "ebcc", "encode_answers", "encode_coded_answers", "encode_ids",
    "fleiss_kappa", "glad", "ibcc", "infer",
    "krippendorff_alpha", "krippendorff_alpha_counts", "mace", "mace_cm", "majority_vote", "numeric_mean", "numeric_median",
    "numeric_with_bias", "one_coin_dawid_skene", "percent_agreement", "prior_confusion",
    "task_posterior", "wawa", "weighted_mean", "weighted_median", "weighted_vote",
]
