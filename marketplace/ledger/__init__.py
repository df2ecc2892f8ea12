"""Double-entry ledger: every money movement as balanced entries in integer minor units."""
