"""SQL pieces the reports share that PostgreSQL and the embedded SQLite spell differently."""
from sqlalchemy import Date, cast, func

from marketplace.db import is_postgres


def day(column):
    """The UTC calendar day of a timestamp column, as an SQL expression to GROUP BY."""
    if is_postgres():
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)  # SQLite keeps UTC timestamps as text: their date part is the UTC day


def seconds_between(start, end):
    """end - start in seconds, as an SQL expression."""
    if is_postgres():
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86_400.0


def iso_day(value) -> str:
    """A day as GROUP BY returned it (a date on PostgreSQL, text on SQLite), as YYYY-MM-DD."""
    return str(value)[:10]
