"""Dotted paths of the jobs the results feature enqueues."""

AGGREGATE_PROJECT = "workers.results.aggregate_project"
SWEEP_UNAGGREGATED = "workers.results.sweep_unaggregated"
