"""An export job takes the streamed export's format options, and refuses what it would refuse, before queuing."""
import sys

import pytest

from marketplace.extensions import db
from marketplace.transfers.models import Transfer
from tests.factories import bearer
from tests.labels.test_api import lease_and_answer, typed_project
from tests.labels.test_exports import read_yolo
from tests.projects.test_routes import _owner
from tests.results.test_export_options import SPANS  # noqa: F401 (the spans schema the fixture uses)
from tests.results.test_export_options import export as streamed
from tests.results.test_export_options import spans_project  # noqa: F401 (fixture)

pytestmark = pytest.mark.embedded


def create(client, project, body):
    return client.post(f"/api/v1/projects/{project.id}/exports", headers=bearer(_owner(project)), json=body)


def done_export(client, project, body) -> dict:
    created = create(client, project, body)
    assert created.status_code == 202, created.json
    done = client.get(f"/api/v1/exports/{created.json['id']}", headers=bearer(_owner(project))).json
    assert done["status"] == "succeeded", done
    return done


def test_a_docbin_job_with_a_language_writes_the_streamed_docbin(client, spans_project):
    done = done_export(client, spans_project, {"format": "spacy", "lang": "de"})
    assert db.session.get(Transfer, done["id"]).options == {"lang": "de"}
    got = client.get(done["download_url"], headers=bearer(_owner(spans_project)))
    assert got.data == streamed(client, spans_project, "format=spacy&lang=de").get_data()


def test_a_yolo_job_splits_as_its_options_say(client):
    project = typed_project({"type": "bbox", "classes": ["car"]},
                            [{"image": f"https://cdn.example/{i}.jpg", "width": 10, "height": 10} for i in range(4)],
                            answers_per_task=1)
    for _ in range(4):
        lease_and_answer(client, project, {"boxes": [{"x": 1, "y": 1, "w": 2, "h": 2, "label": "car"}]})
    done = done_export(client, project, {"format": "yolo", "val_fraction": 1, "split_seed": 9})
    got = read_yolo(client.get(done["download_url"], headers=bearer(_owner(project))).data)
    assert len(got["splits"]["val"]) == 4 and got["splits"]["train"] == []


@pytest.mark.parametrize("body, field", [
    ({"format": "spacy", "lang": "zz"}, "lang"), ({"format": "conll", "val_fraction": 0.1}, "val_fraction"),
    ({"format": "jsonl", "split_seed": 3}, "split_seed"), ({"format": "coco"}, "format"),
    ({"format": "yolo", "val_fraction": 2}, "val_fraction"),
])
def test_what_the_streamed_export_refuses_is_refused_before_a_job_is_queued(client, spans_project, body, field):
    before = db.session.query(Transfer).count()
    refused = create(client, spans_project, body)
    assert refused.status_code == 422 and refused.json["param"] == field, refused.json
    assert db.session.query(Transfer).count() == before


def test_without_spacy_a_docbin_job_is_refused_naming_the_extra(client, spans_project, monkeypatch):
    monkeypatch.setitem(sys.modules, "spacy", None)
    refused = create(client, spans_project, {"format": "spacy"})
    assert refused.status_code == 422 and refused.json["param"] == "format"
    assert "marketplace[spacy]" in refused.json["message"] + str(refused.json["errors"])
