"""A project of every label type through the HTTP API: `make demo DEMO_ARGS=--all-types`.

For each type (marketplace.demo.scenarios) a requester posts a project with gold tasks, funds and
publishes it; simulated annotators of mixed skill lease and answer until every task is done; a
recompute re-aggregates with what trust the gold gave; then every export format the type offers is
downloaded and read back. The end-to-end tests run the same function against PostgreSQL.
"""
from __future__ import annotations

import importlib.util
import io
import json
import random
import sys
import zipfile

from marketplace import labels
from marketplace.demo.scenarios import SCENARIOS

PASSWORD = "demo-password-123"
SKILLS = (0.95, 0.9, 0.85, 0.8, 0.55)


class Api:
    """The JSON API through a Flask test client; an unexpected status stops the run with the response."""

    def __init__(self, client, fail=sys.exit):
        self.client, self.fail = client, fail

    def call(self, method, path, expect, headers=None, **kwargs):
        response = getattr(self.client, method)(f"/api/v1{path}", headers=headers, **kwargs)
        if response.status_code not in expect:
            self.fail(f"{method.upper()} {path} -> {response.status_code}: {response.get_json()}")
        return response

    def account(self, kind: str, email: str) -> dict:
        self.call("post", f"/{kind}", {201}, json={"email": email, "password": PASSWORD})
        token = self.call("post", "/auth/tokens", {201}, json={"email": email, "password": PASSWORD}).json["token"]
        return {"Authorization": f"Bearer {token}"}

    def fund(self, project_id: int, requester: dict, answers: int) -> int:
        """Add money for the answers (twice over: gold answers and reopened slots cost too); simulated payments."""
        cost = self.call("get", f"/projects/{project_id}", {200}, requester).json["escrow"]["answer_cost_cents"]
        amount = max(answers * cost * 2, 50)
        funding = self.call("post", "/payments/fundings", {201}, requester, json={"amount_cents": amount}).json
        if funding["status"] != "succeeded":
            self.fail(f"funding did not succeed: {funding}")
        return amount


def run_type(api: Api, kind: str, *, tasks: int = 10, gold: int = 2, redundancy: int = 3, seed: int = 7,
             gold_rate: float = 0.15, tag: str = "demo") -> dict:
    """Run one project of the label type to completion; return its figures and the exports' bytes."""
    scenario, rng = SCENARIOS[kind], random.Random(f"{seed}-{kind}")
    requester = api.account("requesters", f"requester-{kind}-{tag}@demo.test")
    project = api.call("post", "/projects", {201}, requester, json={
        "name": f"{kind} demo", "instructions": f"Label each item ({kind}).", "label_schema": scenario.schema,
        "reward_cents": 4, "answers_per_task": redundancy, "assignment_duration_s": 300, "gold_rate": gold_rate,
    }).json
    truth, items = {}, []
    for i in range(tasks + gold):
        ref = f"{kind}-{i:03d}"
        data, truth[ref] = scenario.task(rng, ref)
        item = {"external_id": ref, "data": data}
        if i >= tasks:
            item.update(gold_answer=truth[ref], gold_explanation="The reference answer.")
        items.append(item)
    api.call("post", f"/projects/{project['id']}/tasks", {201}, requester, json={"tasks": items})
    api.fund(project["id"], requester, (tasks + gold) * redundancy * 2)
    api.call("post", f"/projects/{project['id']}/publish", {200}, requester)
    crowd = [(api.account("annotators", f"annotator{i}-{kind}-{tag}@demo.test"), skill) for i, skill in enumerate(SKILLS)]
    answers, active = 0, list(crowd)
    while active:
        for member in list(active):
            headers, skill = member
            leased = api.call("post", f"/projects/{project['id']}/assignments", {201, 403, 404, 409}, headers)
            if leased.json.get("code") == "insufficient_escrow":
                # More gold answers than the escrow's gold allowance: the requester tops it up, as they would.
                api.call("post", f"/projects/{project['id']}/escrow", {200}, requester, json={"amount_cents": 100})
                continue
            if leased.status_code != 201:
                active.remove(member)
                continue
            data = leased.json["task"]["data"]
            given = scenario.answer(rng, data, truth[data["ref"]], skill)
            api.call("post", f"/assignments/{leased.json['id']}/answer", {200}, headers, json={"answer": given})
            answers += 1
    api.call("post", f"/projects/{project['id']}/recompute", {202}, requester)
    status = api.call("get", f"/projects/{project['id']}", {200}, requester).json
    stats = api.call("get", f"/projects/{project['id']}/stats", {200}, requester).json
    exports = {fmt: api.call("get", f"/projects/{project['id']}/results/export?format={fmt}", {200}, requester).get_data()
               for fmt in labels.export_formats(scenario.schema) if fmt != "spacy" or _has_spacy()}
    rows = [json.loads(line) for line in exports["jsonl"].decode().splitlines()]
    scored = [_score(scenario.schema, row, truth[row["external_id"]]) for row in rows if not row["gold"]]
    return {"type": kind, "project_id": project["id"], "status": status["status"], "tasks": tasks,
            "done": status["closed_task_count"], "answers": answers, "rows": rows,
            "method": rows[0]["method"] if rows else None,
            "agreement_with_truth": sum(scored) / len(scored) if scored else 0.0,
            "mean_confidence": sum(r["confidence"] for r in rows if not r["gold"]) / max(1, len(scored)),
            "crowd_agreement": stats["agreement"]["mean_pairwise_agreement"], "exports": exports, "schema": scenario.schema}


def _score(schema: dict, row: dict, truth: dict) -> float:
    """How close a result is to the truth, under the type's own agreement measure."""
    result = {"label": row["label"]} if schema["type"] == "classification" else row["label"]
    return labels.agreement(labels.validate_schema(schema), result, truth, row["data"])


def _has_spacy() -> bool:
    """The DocBin export needs the optional spaCy extra; without it the demo leaves that format out."""
    return importlib.util.find_spec("spacy") is not None


def export_summary(fmt: str, body: bytes) -> str:
    """What an export holds, read back: records, annotations or files."""
    if fmt == "coco":
        document = json.loads(body)
        return f"{len(document['images'])} images, {len(document['annotations'])} annotations"
    if fmt == "yolo":
        archive = zipfile.ZipFile(io.BytesIO(body))
        images = {split: len(archive.read(f"{split}.txt").splitlines()) if f"{split}.txt" in archive.namelist() else 0
                  for split in ("train", "val")}
        return f"zip: {images['train']} train + {images['val']} val images, data.yaml, provenance.jsonl"
    if fmt == "conll":
        archive = zipfile.ZipFile(io.BytesIO(body))
        lines = archive.read("results.conll").decode().splitlines()
        documents, tokens = sum(line.startswith("-DOCSTART-") for line in lines), sum("\t" in line for line in lines)
        return f"zip: {documents} documents, {tokens} tokens + provenance.jsonl"
    if fmt == "spacy":
        from spacy.tokens import DocBin  # the optional extra: only offered (run_type) when installed

        return f"DocBin: {len(DocBin().from_bytes(body))} docs"
    return f"{len(body.decode().splitlines()) - (fmt == 'csv')} records"


def run_all(api: Api, seed: int = 7) -> int:
    """Every label type, a table of what came out."""
    print(f"{'type':16}{'status':11}{'done':>6}{'answers':>9}  {'method':16}{'vs truth':>9}{'confidence':>11}{'crowd':>7}")
    failed = 0
    for kind in SCENARIOS:
        found = run_type(api, kind, seed=seed)
        failed += found["status"] != "completed"
        print(f"{kind:16}{found['status']:11}{found['done']:>6}{found['answers']:>9}  {found['method']:16}"
              f"{found['agreement_with_truth']:>9.3f}{found['mean_confidence']:>11.3f}{found['crowd_agreement'] or 0:>7.3f}")
        for fmt, body in found["exports"].items():
            print(f"{'':18}export {fmt:9}{len(body):>8} bytes  {export_summary(fmt, body)}")
    print("vs truth: the results' agreement with the simulated truth under each type's own measure "
          "(IoU, span F1, 1 - WER, ...); crowd: mean agreement between two answers on a task")
    return 1 if failed else 0
