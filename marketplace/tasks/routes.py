"""Task import (JSON, JSONL, CSV) and reads, for the project's requester."""
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts.auth import current_account, requires
from marketplace.accounts.models import ADMIN, REQUESTER
from marketplace.db import transaction
from marketplace.pagination import page_of
from marketplace.tasks import parsing, schemas, services
from marketplace.idempotency.keys import idempotent

bp = Blueprint("tasks", __name__, description="Tasks of a project")


@bp.route("/projects/<int:project_id>/tasks")
class ProjectTasks(MethodView):
    @requires(REQUESTER, ADMIN)
    @bp.arguments(schemas.TaskListArgs, location="query")
    @bp.response(200, schemas.TaskPageOut)
    def get(self, args, project_id):
        """List a project's tasks, optionally by status."""
        return page_of(services.list_tasks(account=current_account(), project_id=project_id, **args), args["limit"])

    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.arguments(schemas.TaskBatchIn)
    @bp.response(201, schemas.ImportOut)
    def post(self, batch, project_id):
        """Add up to 10,000 tasks; a bad row rejects the batch, known external ids are reported as duplicates."""
        with transaction():
            return services.import_tasks(
                account=current_account(), project_id=project_id, items=batch["tasks"],
                max_tasks=current_app.config["MAX_TASKS_PER_IMPORT"],
            )


@bp.route("/projects/<int:project_id>/tasks/upload")
class ProjectTaskUpload(MethodView):
    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.arguments(schemas.TaskUploadArgs, location="query")
    @bp.arguments(schemas.TaskUploadFile, location="files")
    @bp.response(201, schemas.ImportOut)
    def post(self, args, files, project_id):
        """Add tasks from a JSONL or CSV file (multipart field `file`); errors name the file line."""
        upload = files["file"]
        kind = args.get("format") or parsing.format_from_name(upload.filename or "")
        parse = parsing.parse_jsonl if kind == "jsonl" else parsing.parse_csv
        items, lines = parse(upload.read())
        with transaction():
            return services.import_tasks(
                account=current_account(), project_id=project_id, items=items, rows=lines,
                max_tasks=current_app.config["MAX_TASKS_PER_IMPORT"],
            )



@bp.route("/projects/<int:project_id>/tasks/predictions")
class ProjectTaskPredictions(MethodView):
    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.arguments(schemas.PredictionBatchIn)
    @bp.response(200, schemas.PredictionUpdateOut)
    def post(self, batch, project_id):
        """Set (or replace) model predictions on existing tasks, by external id."""
        with transaction():
            return services.update_predictions(account=current_account(), project_id=project_id,
                                               items=batch["predictions"],
                                               max_tasks=current_app.config["MAX_TASKS_PER_IMPORT"])


@bp.route("/tasks/<int:task_id>")
class TaskItem(MethodView):
    @requires(REQUESTER, ADMIN)
    @bp.response(200, schemas.TaskOut)
    def get(self, task_id):
        """Read one task."""
        return services.get_task(account=current_account(), task_id=task_id)
