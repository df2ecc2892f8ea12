"""How often a project recomputes on answers arriving (besides `rq cron` every few minutes).

A run is queued once RECOMPUTE_MIN_NEW_ANSWERS answers arrived since the last run started and at
least RECOMPUTE_NEW_SHARE of the answers that run read: often while the model is young, then about
24 runs per tenfold growth (25 over a project's first 10k answers, 73 over 1M). The submit path
asks every CHECK_EVERY_ANSWERS answers of a project (counted in Redis; without Redis it never
asks, rather than recompute inside a request), so the check costs one Redis round trip per
answer. benchmarks/redundancy_replay.py simulates the same cadence. Pure constants: imported by
the submit path, the recompute and the benchmark alike.
"""

RECOMPUTE_MIN_NEW_ANSWERS = 200
RECOMPUTE_NEW_SHARE = 0.10
CHECK_EVERY_ANSWERS = 100
