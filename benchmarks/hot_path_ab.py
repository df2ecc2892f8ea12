"""Before/after CPU of a lease+answer pair: this checkout against another one, in lock-step (issue 20).

hot_path_cpu.py's figure moves by ±25% from one run to the next on this machine (the virtual CPU's
speed changes over minutes), more than most changes to the hot path. Here both checkouts run at
once, each in its own process on its own database (set up as hot_path_cpu.py does: 16 annotators
through Flask's test client), and take turns: a pass of `--per` pairs on one side, then on the
other, alternating which goes first. Each pair of neighbouring passes sees the same machine, so the
ratio of the two is what to read; the table gives the median over `--passes` turns.

Make the other checkout with git, e.g. `git worktree add /tmp/base HEAD~5`, then run from the repo
root:  .venv/bin/python benchmarks/hot_path_ab.py /tmp/base [--answers-per-task 100,3]
Each side imports the marketplace package of its own checkout (PYTHONPATH).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("other", help="the checkout to compare against (its repo root)")
    p.add_argument("--answers-per-task", default="100,3", help="redundancies, comma-separated (default 100,3)")
    p.add_argument("--passes", type=int, default=20, help="turns per side (default 20)")
    p.add_argument("--per", type=int, default=200, help="lease+answer pairs per pass (default 200)")
    p.add_argument("--side", nargs=3, metavar=("TREE", "APT", "DB"), help=argparse.SUPPRESS)  # one side's process
    return p.parse_args()


def side(tree: str, apt: int, db: str, passes: int, per: int) -> None:
    """One checkout's process: set up, say "ready", then run a pass per line read; print its CPU ms per pair."""
    sys.path[:0] = [tree, str(Path(tree) / "benchmarks")]
    import _harness as h
    import hot_path_cpu as hp

    hp.DB = db
    h.recreate_db(db)
    h.migrate(db)
    os.environ.update(h.app_env(db))
    from marketplace import create_app

    app = create_app()
    if not Path(create_app.__code__.co_filename).is_relative_to(tree):
        raise SystemExit(f"{tree}: imported the app from {create_app.__code__.co_filename}")
    api = hp.Api(app)
    warmup = 300
    project_id, annotators = hp.setup(api, apt, (warmup + passes * per) * apt + 1_000)
    try:
        hp.pairs(api, project_id, annotators, warmup, 0)
        print("ready", flush=True)
        for turn in range(passes):
            sys.stdin.readline()
            started = time.process_time()
            hp.pairs(api, project_id, annotators, per, warmup + turn * per)
            print((time.process_time() - started) * 1000 / per, flush=True)
    finally:
        h.drop_db(db)


def compare(other: Path, apt: int, passes: int, per: int) -> list[str]:
    trees = {"this": REPO, "other": other}
    procs = {}
    for name, tree in trees.items():
        procs[name] = subprocess.Popen(
            [sys.executable, __file__, str(other), "--passes", str(passes), "--per", str(per),
             "--side", str(tree), str(apt), f"bench_ab_{name}"],
            cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True)
    try:
        for name, proc in procs.items():
            while (line := proc.stdout.readline()) and line.strip() != "ready":
                pass
            if not line:
                raise SystemExit(f"the {name} side ({trees[name]}) failed during setup")
        cpu = {name: [] for name in procs}
        for turn in range(passes):
            for name in (("this", "other") if turn % 2 == 0 else ("other", "this")):
                procs[name].stdin.write("go\n")
                procs[name].stdin.flush()
                cpu[name].append(float(procs[name].stdout.readline()))
    finally:
        for proc in procs.values():
            proc.stdin.close()
            proc.wait()
    ratios = [a / b for a, b in zip(cpu["this"], cpu["other"])]
    return [f"x{apt}", f"{statistics.median(cpu['other']):.2f}", f"{statistics.median(cpu['this']):.2f}",
            f"{statistics.median(ratios):.3f}", f"{min(ratios):.3f}-{max(ratios):.3f}"]


def main() -> None:
    args = parse_args()
    if args.side:
        tree, apt, db = args.side
        side(tree, int(apt), db, args.passes, args.per)
        return
    sys.path.insert(0, str(HERE))
    import _harness as h

    other = Path(args.other).resolve()
    rows = [compare(other, int(apt), args.passes, args.per) for apt in args.answers_per_task.split(",")]
    print(f"\nCPU per lease+answer pair, in process, lock-step ({args.passes} turns of {args.per} pairs a side)")
    print(f"other: {other}\nthis:  {REPO}")
    print(h.table(["answers_per_task", "other ms/pair", "this ms/pair", "this/other (median)", "range"], rows))


if __name__ == "__main__":
    main()
