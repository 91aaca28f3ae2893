"""WSGI entry point for gunicorn: ``gunicorn chmanager.wsgi``."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chmanager.settings")
application = get_wsgi_application()
