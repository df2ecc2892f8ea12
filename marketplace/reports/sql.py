"""Reading back what the reports GROUP BY (db.utc_day gives a date on PostgreSQL, text on SQLite)."""


def iso_day(value) -> str:
    """A day as GROUP BY returned it, as YYYY-MM-DD."""
    return str(value)[:10]
