"""Crowdsourcing marketplace backend.

`create_app()` wires configuration, extensions, blueprints, error handlers and CLI commands.
Nothing happens at import time, and Flask is imported only inside the factory so that the pure
`marketplace.inference` package can be used without the web stack.
"""


def create_app(config=None):
    """Build the Flask application from a Config class (default: from the environment)."""
    from sqlalchemy.engine import make_url

    from marketplace import cli, clock, cors, errors, inputs, limits, logs, metrics, openapi, query, queue
    from marketplace import models  # noqa: F401 (every table, for the metadata)
    from marketplace.config import check_secrets, config_from_env
    from marketplace.db import tune_engine
    from marketplace.extensions import api, db, migrate
    from marketplace.payments import gateway  # inside: importing marketplace must not load Flask (inference)
    from marketplace.routes import App, NoCookieSession, blueprints

    app = App(__name__, instance_relative_config=True)
    app.config.from_object(config or config_from_env())
    check_secrets(app.config)
    logs.init_app(app)  # early: its request id and timer wrap the other hooks; JSON lines from here on
    metrics.init_app(app)  # latency from the clock logs starts (so it wraps every later hook); GET /metrics
    app.session_interface = NoCookieSession()  # a bearer-token API: no cookie session to parse per request
    db.init_app(app)
    tune_engine(app)
    clock.use_database(make_url(app.config["SQLALCHEMY_DATABASE_URI"]))  # every process's "now" is the database's
    migrate.init_app(app, db, compare_type=True, directory=app.config["MIGRATIONS_DIR"])
    api.init_app(app, spec_kwargs={"extra_plugins": [limits.DocumentLimits(), openapi.DocumentOperations()]})
    limits.init_app(app)
    cors.init_app(app)
    queue.init_app(app)
    gateway.init_app(app)
    errors.register(app)
    inputs.register(app)
    query.register(app)
    for bp in blueprints():
        api.register_blueprint(bp)
    cli.register(app)
    return app
