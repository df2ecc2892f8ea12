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


@pytest.fixture
def stripe_gateway(app, fake_stripe):
    """Point the app at the fake Stripe through the real StripeGateway for one test, then restore it."""
    from marketplace.payments.gateway import StripeGateway

    gateway = StripeGateway(api_key="sk_test_fake", webhook_secret=fake_stripe.webhook_secret, api_base=fake_stripe.url,
                            timeout_s=0.5, max_retries=2, connect_country="US")
    previous = app.extensions["payment_gateway"]
    app.extensions["payment_gateway"] = gateway
    yield gateway
    app.extensions["payment_gateway"] = previous
