"""Outgoing webhooks: requesters' endpoints, signed deliveries, retries with backoff, replay."""
