"""What requesters read of their project's quality, and the periodic Dawid-Skene trust recompute."""
import pytest

from marketplace.assignments import answering
from marketplace.db import utcnow
from marketplace.quality.models import AnnotatorStats
from tests.factories import AnnotatorFactory, RequesterFactory, bearer, fresh
from tests.projects.test_routes import _owner
from tests.quality.helpers import GOLD_DRAW, LIVE_DRAW, gold_project, lease_now
from workers.results import recompute_due_projects, recompute_project


def label_all(project, annotators_labels, draw=LIVE_DRAW):
    """Each (annotator, labels) pair answers len(labels) tasks in order."""
    for annotator, labels in annotators_labels:
        for label in labels:
            lease = lease_now(project, annotator, draw)
            answering.submit_answer(assignment_id=lease.assignment_id, annotator=annotator,
                                      answer={"label": label}, now=utcnow())


@pytest.fixture
def worked(ctx):
    project = gold_project(tasks=4, gold=2, answers_per_task=3, max_leases_per_annotator=1)
    good, also_good, spammer = AnnotatorFactory(), AnnotatorFactory(), AnnotatorFactory()
    label_all(project, [(good, ["cat"]), (spammer, ["dog"])], draw=GOLD_DRAW)  # gold only beside open work
    label_all(project, [(good, ["cat", "dog", "cat", "dog"]), (also_good, ["cat", "dog", "cat", "dog"]),
                        (spammer, ["dog", "cat", "dog", "cat"])])
    return project, good, spammer


def test_project_stats_report_agreement_gold_and_blocks(client, worked):
    project, _, _ = worked
    stats = client.get(f"/api/v1/projects/{project.id}/stats", headers=bearer(_owner(project))).json
    assert stats["annotators"] == 3 and stats["gold_tasks"] == 2
    agreement = stats["agreement"]
    assert agreement["answers"] == 12
    assert agreement["percent_agreement"] == pytest.approx(1 / 3)  # each task: one agreeing pair of three
    assert agreement["fleiss_kappa"] == pytest.approx(-1 / 3)
    assert agreement["krippendorff_alpha"] == pytest.approx(-2 / 9)  # 1 - 11 * 8 / 72, by hand
    assert stats["gold_accuracy"]["annotators"] == 2
    assert stats["blocked_annotators"] == [] and stats["annotators_out_of_gold"] == 0


def test_project_annotators_are_pseudonymous(client, worked):
    project, good, _ = worked
    rows = client.get(f"/api/v1/projects/{project.id}/annotators", headers=bearer(_owner(project))).json["items"]
    assert len(rows) == 3 and all(r["annotator"].startswith("ann_") for r in rows)
    assert str(good.id) not in [r["annotator"] for r in rows]
    assert client.get(f"/api/v1/projects/{project.id}/annotators", headers=bearer(RequesterFactory())).status_code == 404


def test_recompute_stores_confusion_and_agreement_and_fires_agreement_rules(worked):
    project, good, spammer = worked
    project.quality_rules = [{"metric": "agreement_with_truth", "below": 0.5, "min_count": 3, "action": "downweight",
                              "weight": 0.1}]
    outcome = recompute_project(project.id)
    assert outcome["answers"] == 14 and outcome["annotators"] == 3
    good_stats = fresh(AnnotatorStats, (good.id, project.id))
    spam_stats = fresh(AnnotatorStats, (spammer.id, project.id))
    assert good_stats.agreement == 1.0 and spam_stats.agreement == 0.0
    assert good_stats.ds_accuracy > spam_stats.ds_accuracy
    assert len(good_stats.confusion) == 3 and all(abs(sum(row) - 1) < 1e-3 for row in good_stats.confusion)
    assert spam_stats.weight == 0.1 and good_stats.weight == 1.0


def test_periodic_sweep_queues_recomputes_for_projects_with_new_answers(worked):
    assert recompute_due_projects() == 1
    assert recompute_due_projects() == 0  # nothing new since that run was queued
