"""Ledger endpoints: your balances and statement, and the admins' trial balance."""
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts.auth import current_account, requires
from marketplace.accounts.models import ADMIN, ANNOTATOR, REQUESTER
from marketplace.ledger import reports, schemas
from marketplace.pagination import PageArgs, page_of
from marketplace.payments import gateway
from marketplace.payments.schemas import BalanceOut

bp = Blueprint("ledger", __name__, description="Balances, statements and the trial balance")


@bp.route("/balance")
class Balance(MethodView):
    @requires(REQUESTER, ANNOTATOR)
    @bp.response(200, BalanceOut)
    def get(self):
        """Your balances per currency (annotators: pending approval and available)."""
        return {"balances": reports.own_balances(account=current_account()), "gateway": gateway.describe()}


@bp.route("/balance/entries")
class BalanceEntries(MethodView):
    @requires(REQUESTER, ANNOTATOR)
    @bp.arguments(PageArgs, location="query")
    @bp.response(200, schemas.EntryPageOut)
    def get(self, args):
        """Every movement of your balances, newest first, with what caused it."""
        rows = reports.statement(account_ids=[a.id for a in reports.own_accounts(account=current_account())], **args)
        return page_of(rows, args["limit"], key=lambda row: row["id"])


@bp.route("/admin/ledger/trial-balance")
class TrialBalance(MethodView):
    @requires(ADMIN)
    @bp.arguments(schemas.TrialBalanceArgs, location="query")
    @bp.response(200, schemas.TrialBalanceOut)
    def get(self, args):
        """The trial balance, now or as of a past time: debits must equal credits."""
        return reports.trial_balance(**args)
