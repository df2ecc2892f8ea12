"""The export route's formats and options: the DocBin and CoNLL zip through HTTP, YOLO's split options,
and the 422s (an option the format does not take, an unknown language, spaCy not installed)."""
import io
import sys
import zipfile

import pytest
import spacy
from spacy.tokens import DocBin

from marketplace.labels.exports import in_val_split
from tests.factories import bearer
from tests.labels.test_api import lease_and_answer, typed_project
from tests.labels.test_exports import read_yolo
from tests.projects.test_routes import _owner

pytestmark = pytest.mark.embedded  # also run on the embedded SQLite lane

SPANS = {"type": "spans", "classes": ["PER", "LOC"]}


@pytest.fixture
def spans_project(client):
    project = typed_project(SPANS, [{"text": "Ada met Bob in Paris."}], answers_per_task=1)
    found = lease_and_answer(client, project, {"spans": [{"start": 0, "end": 3, "label": "PER"},
                                                         {"start": 15, "end": 20, "label": "LOC"}]})
    assert found.status_code == 200, found.json
    return project


def export(client, project, query):
    return client.get(f"/api/v1/projects/{project.id}/results/export?{query}", headers=bearer(_owner(project)))


def test_format_spacy_is_a_docbin_attachment(client, spans_project, tmp_path):
    response = export(client, spans_project, "format=spacy&lang=en")
    assert response.status_code == 200 and response.mimetype == "application/octet-stream"
    assert response.headers["Content-Disposition"].endswith('results.spacy"')
    (tmp_path / "results.spacy").write_bytes(response.get_data())
    (doc,) = DocBin().from_disk(tmp_path / "results.spacy").get_docs(spacy.blank("en").vocab)
    assert [(e.text, e.label_) for e in doc.ents] == [("Ada", "PER"), ("Paris", "LOC")]


def test_format_conll_is_a_zip_of_the_conll_and_its_provenance(client, spans_project):
    response = export(client, spans_project, "format=conll")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    conll = archive.read("results.conll").decode()
    assert "Paris\tB-LOC\n.\tO\n" in conll and "#" not in conll
    assert '"task_id"' in archive.read("provenance.jsonl").decode()


def test_without_spacy_format_spacy_is_a_422_naming_the_extra(client, spans_project, monkeypatch):
    monkeypatch.setitem(sys.modules, "spacy", None)  # `import spacy` now raises ImportError
    refused = export(client, spans_project, "format=spacy")
    assert refused.status_code == 422 and refused.json["param"] == "format"
    assert "pip install 'marketplace[spacy]'" in refused.json["errors"]["json"]["format"][0]
    assert export(client, spans_project, "format=spacy-jsonl").status_code == 200  # the JSONL needs no spaCy


@pytest.mark.parametrize("query, field", [
    ("format=spacy&lang=zz", "lang"), ("format=spacy&lang=English", "lang"), ("format=conll&lang=en", "lang"),
    ("format=conll&val_fraction=0.1", "val_fraction"), ("format=spacy&split_seed=3", "split_seed"),
])
def test_an_unknown_language_or_an_option_of_another_format_is_a_422_naming_it(client, spans_project, query, field):
    refused = export(client, spans_project, query)
    assert refused.status_code == 422 and refused.json["param"] == field, refused.json


def test_yolo_split_options_reach_the_export(client):
    project = typed_project({"type": "bbox", "classes": ["car"]},
                            [{"image": f"https://cdn.example/{i}.jpg", "width": 10, "height": 10} for i in range(6)],
                            answers_per_task=1)
    for _ in range(6):
        lease_and_answer(client, project, {"boxes": [{"x": 1, "y": 1, "w": 2, "h": 2, "label": "car"}]})
    everything_val = read_yolo(export(client, project, "format=yolo&val_fraction=1&split_seed=9").get_data())
    assert len(everything_val["splits"]["val"]) == 6 and everything_val["splits"]["train"] == []
    default = read_yolo(export(client, project, "format=yolo").get_data())  # val_fraction 0.2, split_seed 0
    assert {p["task_id"]: p["split"] for p in default["provenance"]} == {
        p["task_id"]: "val" if in_val_split(p["task_id"], 0.2, 0) else "train" for p in everything_val["provenance"]}
    assert export(client, project, "format=yolo&val_fraction=1.5").status_code == 422
