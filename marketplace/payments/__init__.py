"""Money in and out: Stripe funding, escrow, payouts, refunds, reconciliation, behind a gateway."""
