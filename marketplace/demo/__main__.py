"""`make demo`: a scripted marketplace run through the HTTP API on a fresh SQLite database.

A requester posts a 200-task project whose truth the script knows; 15 simulated annotators of
different accuracy (two of them spammers answering at random) lease and answer until the project
completes. Prints tasks done, accuracy of the results against the truth, answers used and cost.
Jobs run inline after each commit (the embedded default: no Redis needed).
"""
import argparse
import json
import random
import sys
import time
from pathlib import Path

from marketplace import create_app
from marketplace.demo import all_types, workforce
from marketplace.config import ROOT, Config
from marketplace.demo.all_types import Api
from marketplace.ledger import reports

CLASSES = ["cat", "dog", "bird"]


def _config(database: Path) -> type[Config]:
    class DemoConfig(Config):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{database}"
        REDIS_URL = None
        # The whole simulated crowd signs up and logs in from this one process: the per-client limits
        # are for strangers on the internet (the per-credential budget still applies to each of them).
        RATELIMIT_SIGNUP_PER_CLIENT = "100000 per hour"
        RATELIMIT_LOGIN_PER_CLIENT = "100000 per hour"

    return DemoConfig


def _crowd(rng: random.Random, size: int, spammers: int) -> list[float | None]:
    """Accuracy per annotator; None is a spammer who answers at random."""
    return [None] * spammers + [round(rng.uniform(0.6, 0.95), 2) for _ in range(size - spammers)]


def _answer(rng: random.Random, truth: str, accuracy: float | None) -> str:
    if accuracy is None or rng.random() >= accuracy:
        return rng.choice(CLASSES) if accuracy is None else rng.choice([c for c in CLASSES if c != truth])
    return truth


def _fresh_app():
    """The app on a new SQLite database under instance/, migrated."""
    database = ROOT / "instance" / "demo.db"
    database.parent.mkdir(exist_ok=True)
    database.unlink(missing_ok=True)
    app = create_app(_config(database))
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
    return app


def run(tasks: int, annotators: int, spammers: int, redundancy: int, seed: int, gold: int, aggregation: str) -> int:
    app = _fresh_app()
    api = Api(app.test_client())
    call, account = api.call, api.account
    rng = random.Random(seed)
    started = time.perf_counter()

    requester = account("requesters", "requester@demo.test")
    key = call("post", "/api-keys", {201}, requester, json={"name": "demo"}).json["key"]
    requester = {"Authorization": f"Bearer {key}"}
    quality = {} if gold == 0 else {
        # Honeypots in about one lease in seven; whoever gets at most one right of their first four
        # (a 5% lower bound under 0.15) is blocked and their answers rejected, reopening those slots.
        "gold_rate": 0.15,
        "quality_rules": [{"metric": "gold_accuracy_lower_bound", "below": 0.15, "min_count": 4, "action": "block",
                           "reject_answers": True}],
    }
    project = call("post", "/projects", {201}, requester, json={
        "name": "Pets", "instructions": "Which animal is in the picture?",
        "label_schema": {"type": "classification", "classes": CLASSES},
        "reward_cents": 3, "answers_per_task": redundancy, "assignment_duration_s": 300, "aggregation": aggregation,
        **quality,
    }).json
    truth = {f"img-{i:04d}": rng.choice(CLASSES) for i in range(tasks)}
    items = [{"external_id": ext, "data": {"image_url": f"https://example.test/{ext}.jpg"}} for ext in truth]
    known = {f"gold-{i:03d}": rng.choice(CLASSES) for i in range(gold)}
    items += [{"external_id": ext, "data": {"image_url": f"https://example.test/{ext}.jpg"},
               "gold_answer": {"label": label}, "gold_explanation": "A known answer."} for ext, label in known.items()]
    truth.update(known)
    call("post", f"/projects/{project['id']}/tasks", {201}, requester, json={"tasks": items})
    crowd = [(account("annotators", f"annotator{i}@demo.test"), accuracy)
             for i, accuracy in enumerate(_crowd(rng, annotators, spammers))]
    # The first few careful annotators form an in-house team paid more; two guideline versions are compared.
    team = [headers for headers, accuracy in crowd if accuracy is not None][:workforce.TEAM_SIZE]
    extras = workforce.setup(api, requester, project["id"], team)
    funded = api.fund(project["id"], requester, tasks * redundancy)
    call("post", f"/projects/{project['id']}/publish", {200}, requester)
    # Annotators see the task's data, not our ids: the simulated crowd "looks at the image".
    external_of = {t["data"]["image_url"]: t["external_id"] for t in _all_tasks(call, project["id"], requester)}
    active = list(crowd)
    answers = 0
    while active:
        for member in list(active):
            headers, accuracy = member
            leased = call("post", f"/projects/{project['id']}/assignments", {201, 403, 404, 409}, headers)
            if leased.json.get("code") == "insufficient_escrow":
                # Gold and reworked answers used up the escrow: the requester tops it up, as they would.
                call("post", f"/projects/{project['id']}/escrow", {200}, requester, json={"amount_cents": funded // 10})
                continue
            if leased.status_code != 201:
                active.remove(member)
                continue
            shown = workforce.accuracy_under(accuracy, leased.json["guideline_version"])
            label = _answer(rng, truth[external_of[leased.json["task"]["data"]["image_url"]]], shown)
            call("post", f"/assignments/{leased.json['id']}/answer", {200}, headers, json={"answer": {"label": label}})
            answers += 1

    status = call("get", f"/projects/{project['id']}", {200}, requester).json
    def accuracy():
        exported = call("get", f"/projects/{project['id']}/results/export", {200}, requester).get_data(as_text=True)
        rows = [r for r in map(json.loads, exported.splitlines()) if not r["gold"]]
        return rows, sum(truth[r["external_id"]] == r["label"] for r in rows)

    results, correct = accuracy()
    # The project ran its own last recompute when it completed; one more on request changes nothing.
    call("post", f"/projects/{project['id']}/recompute", {202}, requester)
    recomputed, correct_after = accuracy()
    stats = call("get", f"/projects/{project['id']}/stats", {200}, requester).json
    extra_lines = workforce.summary(api, requester, project["id"], extras)
    money = _settle(app, call, project["id"], requester, funded)
    elapsed = time.perf_counter() - started
    print(f"project {project['id']} '{status['name']}': {status['status']}")
    print(f"  annotators           {annotators} ({spammers} spammers answering at random)")
    print(f"  gold tasks           {gold} (gold_rate {quality.get('gold_rate', 0)}); blocked annotators: "
          f"{len(stats['blocked_annotators'])}")
    print(f"  agreement            Krippendorff alpha {stats['agreement']['krippendorff_alpha']:.3f}")
    print(f"  tasks done           {status['closed_task_count']} / {status['task_count']}")
    print(f"  accuracy vs truth    {correct / len(results):.3f}  ({correct}/{len(results)}, {redundancy} answers per task, "
          f"{results[0]['method']}, recomputed over all answers as the project completed)")
    print(f"  recompute on request {correct_after / len(recomputed):.3f}  (the default truth model over all answers, gold clamped and calibrating)")
    print(f"  answers used         {answers}  ({answers / max(len(results), 1):.2f} per task, gold and rejected included)")
    print(f"  money                funded {funded / 100:.2f} (simulated: no Stripe keys), approved "
          f"{money['approved']} answers, escrow released on close; spent {money['spent'] / 100:.2f} "
          f"{project['currency'].upper()} ({project['reward_cents']} cents per answer, the team's "
          f"{workforce.TEAM_REWARD_CENTS}, + {money['fee_bps'] / 100:g}% fee)")
    print("\n".join(extra_lines))
    print(f"  ledger               balanced: {money['balanced']}")
    print(f"  wall time            {elapsed:.1f} s")
    return 0 if status["status"] == "completed" else 1


def _settle(app, call, project_id, requester, funded: int) -> dict:
    """Approve every answer, close the project (its free escrow comes back) and read what the work cost."""
    approved = 0
    while True:
        done = call("post", f"/projects/{project_id}/answers/approve", {200}, requester, json={}).json
        approved += done["decided"]
        if not done["more_pending"]:
            break
    closed = call("post", f"/projects/{project_id}/close", {200}, requester).json
    available = call("get", "/balance", {200}, requester).json["balances"][0]["available_cents"]
    with app.app_context():
        balanced = reports.trial_balance()["balanced"]
    return {"approved": approved, "spent": funded - available - closed["escrow"]["escrow_cents"],
            "fee_bps": closed["fee_bps"], "balanced": balanced}


def _all_tasks(call, project_id, headers):
    cursor = ""
    while True:
        page = call("get", f"/projects/{project_id}/tasks?limit=1000{cursor}", {200}, headers).json
        yield from page["items"]
        if page["next_cursor"] is None:
            return
        cursor = f"&cursor={page['next_cursor']}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--annotators", type=int, default=15)
    parser.add_argument("--spammers", type=int, default=2)
    parser.add_argument("--redundancy", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--gold", type=int, default=20, help="gold tasks mixed in (0: no quality control)")
    parser.add_argument("--aggregation", choices=("ds", "mv"), default="ds")
    parser.add_argument("--all-types", action="store_true",
                        help="instead: a small project of every label type, with its exports read back")
    args = parser.parse_args(argv)
    if args.all_types:
        app = _fresh_app()
        with app.app_context():
            return all_types.run_all(Api(app.test_client()), seed=args.seed)
    return run(args.tasks, args.annotators, args.spammers, args.redundancy, args.seed, args.gold, args.aggregation)


if __name__ == "__main__":
    sys.exit(main())
