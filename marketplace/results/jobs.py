"""Dotted paths of the jobs the results feature enqueues."""

AGGREGATE_PROJECT = "workers.results.aggregate_project"
SWEEP_UNAGGREGATED = "workers.results.sweep_unaggregated"
RECOMPUTE_PROJECT = "workers.results.recompute_project"
RECOMPUTE_DUE_PROJECTS = "workers.results.recompute_due_projects"
RECOMPUTE_IF_DUE = "workers.results.recompute_if_due"
