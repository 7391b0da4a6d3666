"""A module-level app for Celery's own command line:
``celery -A worker.celery_app worker`` (settings from the environment and config file)."""

from engine.settings import load_settings, prepare_workspace
from worker.main import build_app

app = build_app(prepare_workspace(load_settings()))
