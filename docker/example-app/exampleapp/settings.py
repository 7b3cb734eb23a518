"""Settings of the example app: no database, no sessions, nothing to set up.

Everything that matters for coverage lives in wsgi.py (the blog's hook),
gunicorn.conf.py (timeouts) and .coveragerc (the no-code-change way)."""
import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = []
MIDDLEWARE = []
ROOT_URLCONF = "exampleapp.urls"
DATABASES = {}
USE_TZ = True
TIME_ZONE = "UTC"
