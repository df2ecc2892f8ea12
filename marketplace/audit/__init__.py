"""Admin work: suspensions, the audit log, payments oversight."""
