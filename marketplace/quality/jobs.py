"""Dotted paths of the quality jobs."""

RECOMPUTE_TRUST = "workers.quality.recompute_trust"
RECOMPUTE_OPEN_PROJECTS = "workers.quality.recompute_open_projects"
