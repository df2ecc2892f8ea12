"""GET /projects/{id}/forecast: when the project will finish and what it will cost, with intervals."""
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts.auth import current_account, requires
from marketplace.accounts.models import ADMIN, REQUESTER
from marketplace.db import utcnow
from marketplace.forecasts import schemas, services

bp = Blueprint("forecasts", __name__, description="Completion and cost forecasts of projects")


@bp.route("/projects/<int:project_id>/forecast")
class ProjectForecast(MethodView):
    @requires(REQUESTER, ADMIN)
    @bp.response(200, schemas.ForecastOut)
    def get(self, project_id):
        """Forecast your project: remaining answers, pace, completion time and cost (90% intervals), budget outlook."""
        return services.project_forecast(account=current_account(), project_id=project_id, now=utcnow())
