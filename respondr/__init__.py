"""respondr: a moderated response workflow for brands answering their fans."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; ``config`` overrides the environment (tests pass theirs)."""
    from respondr.config import default_instance_path, load_settings

    config = dict(config or {})
    instance_path = Path(config.pop("INSTANCE_PATH", None) or default_instance_path())
    settings = load_settings(instance_path)
    app = Flask(
        __name__,
        instance_path=str(instance_path),
        template_folder=str(PROJECT_ROOT / "templates"),
    )
    app.config.update(settings.flask_config())
    app.config.update(config)
    app.extensions["respondr.settings"] = settings

    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    from respondr import db_setup, tasks
    from respondr.extensions import csrf, db, login_manager
    from respondr.receivers import connect_receivers
    from respondr.web import submission_keys, throttle, transport

    db_setup.configure_engine_options(app)
    db.init_app(app)
    with app.app_context():
        db_setup.install_connection_hooks(db.engine)
    db_setup.install_session_teardown(app)
    transport.init_app(app)
    csrf.init_app(app)
    throttle.init_app(app)
    submission_keys.init_app(app)
    login_manager.init_app(app)
    connect_receivers()
    tasks.bind_storage(app)


def register_blueprints(app: Flask) -> None:
    from respondr.web import (
        admin,
        api,
        auth,
        converters,
        drafts,
        health,
        inbox,
        layout,
        notifications,
        policies,
        reports,
        stock,
        whatif,
    )

    web = (
        auth,
        inbox,
        drafts,
        stock,
        policies,
        reports,
        whatif,
        notifications,
        admin,
        health,
        api,
    )
    converters.init_app(app)
    for module in web:
        app.register_blueprint(module.bp)
    layout.init_app(app)


def register_errorhandlers(app: Flask) -> None:
    from respondr.web import errors

    errors.init_app(app)


def register_commands(app: Flask) -> None:
    from respondr.cli import register

    register(app)
