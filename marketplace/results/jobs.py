"""The jobs the results feature runs, with their queue, debounce and schedule."""
from marketplace.queue import MAINTENANCE, TRUTH, Job
from marketplace.results.cadence import CHECK_EVERY_ANSWERS

AGGREGATE_PROJECT = Job("workers.results.aggregate_project", TRUTH, debounce=True)
SWEEP_UNAGGREGATED = Job("workers.results.sweep_unaggregated", MAINTENANCE, interval_s=120)
RECOMPUTE_PROJECT = Job("workers.results.recompute_project", TRUTH, debounce=True)
RECOMPUTE_DUE_PROJECTS = Job("workers.results.recompute_due_projects", TRUTH, interval_s=180)
# A large run's results, one staged chunk per job (results/chunked.py); each sends the next.
MERGE_RECOMPUTE_CHUNK = Job("workers.results.merge_recompute_chunk", TRUTH, debounce=True)
RECOMPUTE_IF_DUE = Job("workers.results.recompute_if_due", TRUTH, debounce=True, every=CHECK_EVERY_ANSWERS)
