"""Payments fixtures: a fake Stripe server (one per test module, emptied before each test) and an SDK client for it."""
import pytest

from tests.payments.fake_stripe import FakeStripe


@pytest.fixture(scope="module")
def fake_stripe_server():
    """Run one FakeStripe for the whole test module."""
    with FakeStripe() as server:
        yield server


@pytest.fixture
def fake_stripe(fake_stripe_server):
    """Return the module's FakeStripe, emptied for this test."""
    fake_stripe_server.reset()
    return fake_stripe_server


@pytest.fixture
def stripe_client(fake_stripe):
    """Return a StripeClient aimed at the fake (2 network retries, 0.5 s timeout), as the gateway builds one."""
    return fake_stripe.client()
