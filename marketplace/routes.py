"""The API's blueprints, mounted under /api/v1, the (cookie-less) session interface and the app class."""
from inspect import iscoroutinefunction

from flask import Flask
from flask.sessions import SessionInterface


def blueprints():
    """Return every feature blueprint with its URL prefix applied.

    The routes are imported here, when the app is built, not when this module is: the routes pull
    in every feature and the web stack, and `import marketplace.routes` for NoCookieSession should not.
    """
    from marketplace.accounts.routes import bp as accounts  # when the app is built (docstring)
    from marketplace.audit.routes import bp as audit  # when the app is built (docstring)
    from marketplace.approvals.routes import bp as approvals  # when the app is built (docstring)
    from marketplace.assignments.routes import bp as assignments  # when the app is built (docstring)
    from marketplace.disputes.routes import bp as disputes  # when the app is built (docstring)
    from marketplace.feed.routes import bp as feed  # when the app is built (docstring)
    from marketplace.forecasts.routes import bp as forecasts  # when the app is built (docstring)
    from marketplace.health.routes import bp as health  # when the app is built (docstring)
    from marketplace.ledger.routes import bp as ledger  # when the app is built (docstring)
    from marketplace.operations.routes import bp as operations  # when the app is built (docstring)
    from marketplace.payments.routes import bp as payments  # when the app is built (docstring)
    from marketplace.projects.routes import bp as projects  # when the app is built (docstring)
    from marketplace.qualifications.routes import bp as qualifications  # when the app is built (docstring)
    from marketplace.quality.routes import bp as quality  # when the app is built (docstring)
    from marketplace.questions.routes import bp as questions  # when the app is built (docstring)
    from marketplace.reports.routes import bp as reports  # when the app is built (docstring)
    from marketplace.results.routes import bp as results  # when the app is built (docstring)
    from marketplace.reviews.routes import bp as reviews  # when the app is built (docstring)
    from marketplace.tasks.routes import bp as tasks  # when the app is built (docstring)
    from marketplace.teams.routes import bp as teams  # when the app is built (docstring)
    from marketplace.experiments.routes import bp as experiments  # when the app is built (docstring)
    from marketplace.transfers.routes import bp as transfers  # when the app is built (docstring)
    from marketplace.webhooks.routes import bp as webhooks  # when the app is built (docstring)

    for bp in (health, accounts, projects, tasks, assignments, results, qualifications, quality, webhooks,
               reviews, approvals, payments, ledger, disputes, audit, reports, transfers, forecasts, feed, questions,
               teams, experiments, operations):
        bp.url_prefix = "/api/v1"
        yield bp


class NoCookieSession(SessionInterface):
    """Flask's session interface without the cookie: the API authenticates with bearer tokens."""

    def open_session(self, app, request):
        return self.make_null_session(app)

    def save_session(self, app, session, response):
        return None


class App(Flask):
    """Flask, asking once per function whether it is a coroutine.

    Flask runs every hook and view of a request through ensure_sync, which asks
    inspect.iscoroutinefunction each time: fourteen times a request here. With the answer
    remembered, a lease+answer pair takes 0.94 of the CPU (benchmarks/hot_path_ab.py, a wide spread).
    It is remembered per underlying function (a bound method's __func__: MethodView binds a new
    instance per request); objects made per call that have no __func__ (a partial) are asked every
    time once the memo is full, so it stays bounded.
    """

    MEMO_SIZE = 4096

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._coroutines: dict = {}

    def ensure_sync(self, func):
        key = getattr(func, "__func__", func)
        coroutine = self._coroutines.get(key)
        if coroutine is None:
            coroutine = iscoroutinefunction(func)
            if len(self._coroutines) < self.MEMO_SIZE:
                self._coroutines[key] = coroutine
        return self.async_to_sync(func) if coroutine else func
