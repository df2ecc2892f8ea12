"""Dotted paths of the jobs the assignments feature runs."""

EXPIRE_LEASES = "workers.assignments.expire_leases"
