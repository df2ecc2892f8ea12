"""The accounts' reads on every request: the bearer lookup, as raw PostgreSQL and as a portable query."""
from sqlalchemy import bindparam, null, select

from marketplace.accounts import principals, secrets
from marketplace.accounts.models import AccessToken, Account, ApiKey
from marketplace.db import core, is_postgres, pg_one, pg_sql

# Built once: this runs on every request, so it should not pay for building a query each time.
_BEARER_LOOKUP = {
    kind: select(model.secret_hash, model.revoked_at, expiry.label("expires_at"), Account.id, Account.role, Account.status)
    .join(Account, Account.id == model.account_id)
    .where(model.prefix == bindparam("prefix"))
    for kind, model, expiry in (
        (secrets.API_KEY, ApiKey, null()),
        (secrets.TOKEN, AccessToken, AccessToken.expires_at),
    )
}


_PG_BEARER_LOOKUP = {
    kind: pg_sql(f"""SELECT c.secret_hash, c.revoked_at, {expiry} AS expires_at, a.id, a.role, a.status
                     FROM {table} c JOIN accounts a ON a.id = c.account_id WHERE c.prefix = :prefix""")
    for kind, table, expiry in ((secrets.API_KEY, "api_keys", "NULL::timestamptz"),
                                (secrets.TOKEN, "access_tokens", "c.expires_at"))
}


def bearer_row(kind: str, prefix: str):
    """The credential with this prefix and its account (secret_hash, revoked_at, expires_at, id, role, status), or None."""
    if is_postgres():
        return pg_one(_PG_BEARER_LOOKUP[kind], {"prefix": prefix})
    return core(_BEARER_LOOKUP[kind], {"prefix": prefix}).first()


def set_status(account, status: str) -> None:
    """Suspend or reinstate an account (quality's admin action decides; the accounts table is written here)."""
    account.status = status
    principals.forget(account.id)  # this process at once; the others within AUTH_CACHE_S
