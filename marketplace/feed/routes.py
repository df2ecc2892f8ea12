"""GET /me/feed: what happened to your work, newest first."""
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts.auth import current_account, requires
from marketplace.accounts.models import ANNOTATOR
from marketplace.feed import schemas, services

bp = Blueprint("feed", __name__, description="An annotator's feed of rejections, missed gold, rulings and bonuses")


@bp.route("/me/feed")
class MyFeed(MethodView):
    @requires(ANNOTATOR)
    @bp.arguments(schemas.FeedArgs, location="query")
    @bp.response(200, schemas.FeedPageOut)
    def get(self, args):
        """Read your feed: rejections with reasons, gold you missed (where the project says), rulings, bonuses."""
        return services.feed(annotator=current_account(), kinds=args["kind"], cursor=args["cursor"], limit=args["limit"])
