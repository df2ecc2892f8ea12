"""The API's blueprints, mounted under /api/v1, and the (cookie-less) session interface."""
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
