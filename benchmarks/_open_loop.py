"""lease_throughput.py's open loop (issue 20): fixed arrival rates, the highest one each app holds.

Lease -> answer pairs arrive as a Poisson process at each fixed rate, each taken by an annotator of
the pool not busy with a pair, so a slow server does not slow the arrivals as it does in a closed
loop. See lease_throughput.py's docstring (part 4) for what is printed and the target.
"""
from __future__ import annotations

import _harness as h
from _lease_setup import APP_DB, REF_DB


def open_loop(args, counts: list[int], state: dict, app_annotators, ref_annotators) -> tuple[list, list[str]]:
    """Fixed arrival rates of lease -> answer pairs (Poisson), app and reference alternately at each rate;
    `app_annotators` / `ref_annotators` (project, people) build each side's simulated annotators.

    A trial holds when its lease p99 < 100 ms with no arrival turned away and no error; a rate holds
    when most of its trials do (one stall of the server, a checkpoint say, does not sink it), and an
    app's figure is the highest rate up to which every rate held (one passing by luck after a
    failure does not count)."""
    people = state["people"][sum(counts):sum(counts) + args.pool]
    rates = sorted(float(r) for r in args.open_loop.split(",") if r)
    app = h.Gunicorn("wsgi:app", h.app_env(APP_DB), args.workers, database=APP_DB)
    ref = h.Gunicorn("reference_app:app", {**h.app_env(REF_DB), "BENCH_REF_DATABASE_URL": h.db_url(REF_DB)},
                     args.workers, database=REF_DB)
    rows, best, failed = [], {"app": 0.0, "ref": 0.0}, set()
    try:
        for i, rate in enumerate(rates):
            crowds = {"app": app_annotators(state["project"], people), "ref": ref_annotators(state["project"], people)}
            windows, away, held = {"app": [], "ref": []}, {"app": 0, "ref": 0}, {"app": 0, "ref": 0}
            for trial in range(args.open_trials):  # interleaved: app ref, ref app, ...
                for name, server in ([("app", app), ("ref", ref)][::1 if (i + trial) % 2 == 0 else -1]):
                    if args.autovacuum:
                        h.autovacuum(server.database)
                    start, end, turned = h.run_open_loop(server.port, crowds[name], rate, args.open_seconds, args.warmup,
                                                         seed=i * args.open_trials + trial)
                    lease = h.summarise(h.merged(crowds[name], "leases"), [(start, end)], 201)
                    held[name] += lease.p99_ms < 100 and turned == 0 and lease.errors == 0
                    windows[name].append((start, end))
                    away[name] += turned
                    print(f"  open loop {rate:g}/s {name}, trial {trial + 1}: lease p99 {lease.p99_ms:.0f} ms, "
                          f"turned away {turned}", flush=True)
            for name in ("app", "ref"):
                lease = h.summarise(h.merged(crowds[name], "leases"), windows[name], 201)
                answer = h.summarise(h.merged(crowds[name], "answers"), windows[name], 200)
                rows.append([f"{rate:>5g} {name}", lease.rate, lease.p50_ms, lease.p95_ms, lease.p99_ms, answer.p99_ms,
                             lease.errors + answer.errors, away[name], f"{held[name]}/{args.open_trials}"])
                if 2 * held[name] > args.open_trials and name not in failed:
                    best[name] = rate
                else:
                    failed.add(name)
    finally:
        app.stop()
        ref.stop()
    return rows, [open_loop_verdict(best, max(rates))]


def open_loop_verdict(best: dict, top: float) -> str:
    """The verdict from each app's highest rate held (lease p99 < 100 ms) and the highest rate tried. Holding
    that one is a lower bound: if the reference did, app/ref is an upper bound, decisive only below 0.70."""
    ratio = best["app"] / best["ref"] if best["ref"] else float("nan")
    held = {name: f"{rate:g}/s" + (" or more (it held the highest rate tried)" if rate == top else "")
            for name, rate in best.items()}
    if best["ref"] == top and not ratio < 0.7:
        outcome = f"app/ref at most {ratio:.2f} (target >= 0.70) UNDECIDED: add higher rates"
    else:
        outcome = f"app/ref {'at most ' if best['ref'] == top else ''}{ratio:.2f} (target >= 0.70) " + (
            "PASS" if ratio >= 0.7 else "FAIL")
    return f"open loop, highest rate with lease p99 < 100 ms: app {held['app']}, ref {held['ref']}, {outcome}"
