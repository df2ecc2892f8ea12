"""PostgreSQL drops every connection (what a restart or a failover does to them) under an API in use (issue 21).

The request that meets a dead connection answers 503 with Retry-After in the one error shape, never a
500, and saves nothing; the pool replaces its connections, so the next request succeeds without
restarting anything; no lease is left half-made.
"""
import time

import psycopg
import pytest
from sqlalchemy import func, select

from marketplace.assignments.models import Assignment
from marketplace.extensions import db
from tests.conftest import TEST_DB
from tests.factories import AnnotatorFactory, bearer, open_project
from tests.faults.workers import PG_URL

pytestmark = pytest.mark.postgres


def drop_every_connection() -> int:
    """End every session of the test database but this one, as a server restart would."""
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        return conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = %s AND pid <> pg_backend_pid()", (TEST_DB,)).fetchone()[0]


def test_requests_meeting_dropped_connections_answer_503_and_the_pool_recovers(committed_app):
    with committed_app.app_context():
        project = open_project(tasks=5, answers_per_task=1, max_leases_per_annotator=5)
        annotator = AnnotatorFactory()
        headers = bearer(annotator)
        db.session.commit()
        project_id, annotator_id = project.id, annotator.id
        db.session.remove()
    client = committed_app.test_client()
    lease_url = f"/api/v1/projects/{project_id}/assignments"
    assert client.post(lease_url, headers=headers).status_code == 201  # the pool now holds live connections
    assert drop_every_connection() >= 1
    dropped_at = time.perf_counter()
    refused = client.post(lease_url, headers=headers)
    assert refused.status_code == 503, refused.json
    assert refused.headers["Retry-After"] == "2"
    assert (refused.json["type"], refused.json["code"]) == ("unavailable", "unavailable")
    recovered = client.post(lease_url, headers=headers)
    assert recovered.status_code == 201, recovered.json
    recovery = time.perf_counter() - dropped_at
    with committed_app.app_context():
        leases = db.session.scalar(select(func.count()).select_from(Assignment)
                                   .where(Assignment.annotator_id == annotator_id))
    assert leases == 2  # the refused request left nothing behind
    print(f"\ninjected: every database connection dropped; one request answered 503 (Retry-After 2), the next "
          f"succeeded on a new connection {recovery:.2f} s after the drop")
