"""The API's blueprints, mounted under /api/v1, and the (cookie-less) session interface."""
from flask.sessions import SessionInterface


def blueprints():
    """Return every feature blueprint with its URL prefix applied."""
    from marketplace.accounts.routes import bp as accounts
    from marketplace.admin.routes import bp as admin
    from marketplace.approvals.routes import bp as approvals
    from marketplace.assignments.routes import bp as assignments
    from marketplace.disputes.routes import bp as disputes
    from marketplace.health.routes import bp as health
    from marketplace.payments.routes import bp as payments
    from marketplace.projects.routes import bp as projects
    from marketplace.qualifications.routes import bp as qualifications
    from marketplace.quality.routes import bp as quality
    from marketplace.results.routes import bp as results
    from marketplace.reviews.routes import bp as reviews
    from marketplace.tasks.routes import bp as tasks
    from marketplace.webhooks.routes import bp as webhooks

    for bp in (health, accounts, projects, tasks, assignments, results, qualifications, quality, webhooks,
               reviews, approvals, payments, disputes, admin):
        bp.url_prefix = "/api/v1"
        yield bp


class NoCookieSession(SessionInterface):
    """Flask's session interface without the cookie: the API authenticates with bearer tokens."""

    def open_session(self, app, request):
        return self.make_null_session(app)

    def save_session(self, app, session, response):
        return None
