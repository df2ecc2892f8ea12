"""A project of every label type through the API on PostgreSQL: import, lease, answer, gold, results, exports."""
import json

import pytest
import spacy
from pycocotools.coco import COCO
from spacy.tokens import DocBin

from marketplace.assignments.models import Assignment
from marketplace.demo.all_types import Api, run_type
from marketplace.extensions import db
from marketplace.demo.scenarios import SCENARIOS
from tests.labels.test_exports import read_yolo
from tests.labels.test_text_exports import entities, read_conll

pytestmark = pytest.mark.embedded  # also run on the embedded SQLite lane

# classification: the default truth model's blend, named after its leading model (which one depends
# on the answers the app's random draw produced)
METHODS = {"classification": "auto:", "multi_label": "auto_binary", "bbox": "iou_cluster", "polygon": "pixel_vote",
           "spans": "span_vote", "transcription": "weighted_medoid", "audio_segments": "interval_vote",
           "numeric": "weighted_median", "rating": "weighted_median"}


@pytest.mark.parametrize("kind", list(SCENARIOS))
def test_a_project_of_each_type_runs_end_to_end(client, kind, tmp_path):
    # gold in half the leases: every project scores some (the draw is random)
    found = run_type(Api(client, fail=pytest.fail), kind, tasks=6, gold=2, gold_rate=0.5, tag="e2e")
    assert found["status"] == "completed" and found["done"] == 6
    rows = found["rows"]
    assert len(rows) == 8 and sum(r["gold"] for r in rows) == 2
    work = [r for r in rows if not r["gold"]]
    methods = {r["method"] for r in work}
    assert len(methods) == 1 and methods.pop().startswith(METHODS[kind])
    assert all(r["answer_count"] == 3 and 0 <= r["confidence"] <= 1 and r["guideline_version"] == 1 for r in work)
    # mostly skilled annotators: the results sit near the truth under the type's own measure (hand-made
    # cases in test_aggregation pin the exact outcomes; here who answers what is the app's random draw)
    assert found["agreement_with_truth"] > 0.5
    assert found["crowd_agreement"] is not None
    # gold answers were scored by the type's agreement measure (some right, none left unscored)
    scored = db.session.query(Assignment.gold_correct).filter(Assignment.project_id == found["project_id"],
                                                              Assignment.is_gold).all()
    assert scored and all(correct is not None for (correct,) in scored)
    check_exports(kind, found, tmp_path)


def check_exports(kind, found, tmp_path):
    exports, rows = found["exports"], found["rows"]
    assert len(exports["csv"].decode().splitlines()) == len(rows) + 1
    if kind in ("bbox", "polygon"):
        path = tmp_path / "coco.json"
        path.write_bytes(exports["coco"])
        coco = COCO(str(path))
        shapes = sum(len(r["label"]["boxes" if kind == "bbox" else "polygons"]) for r in rows)
        assert len(coco.getImgIds()) == len(rows) and len(coco.getAnnIds()) == shapes
        yolo = read_yolo(exports["yolo"])
        images = yolo["splits"]["train"] + (yolo["splits"]["val"] if yolo["config"]["val"] != "train.txt" else [])
        assert len(images) == len(rows) and sum(len(found) for _, found in images) == shapes
        assert {p["url"] for p in yolo["provenance"]} == {r["data"]["image"] for r in rows}
    if kind == "spans":
        documents = read_conll(exports["conll"])
        by_task = {r["task_id"]: r for r in rows}
        for document in documents:
            row = by_task[document["task_id"]]
            expected = [(s["label"], row["data"]["text"][s["start"]:s["end"]]) for s in row["label"]["spans"]]
            assert [(label, words.replace(" ", "")) for label, words in entities(document)] == \
                [(label, part.replace(" ", "")) for label, part in expected]  # tokens split at span ends: exact
        docs = list(DocBin().from_bytes(exports["spacy"]).get_docs(spacy.blank("en").vocab))
        assert [doc.user_data["task_id"] for doc in docs] == [d["task_id"] for d in documents]
        assert len([json.loads(line) for line in exports["spacy-jsonl"].decode().splitlines()]) == len(rows)
    if kind == "transcription":
        manifest = [json.loads(line) for line in exports["manifest"].decode().splitlines()]
        assert all(m["audio_filepath"].endswith(".wav") and isinstance(m["text"], str) for m in manifest)
