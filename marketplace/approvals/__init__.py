"""Approving and rejecting answers (pending -> available or back to escrow), and bonuses."""
