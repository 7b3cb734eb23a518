"""Minimal Django settings: no database, no middleware, no templates."""
import logging
import os

SECRET_KEY = "covship-test-app-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "project.urls"
INSTALLED_APPS = []
MIDDLEWARE = []
DATABASES = {}
USE_TZ = True
TIME_ZONE = "UTC"
LOGGING_CONFIG = None
BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# No logging config: keep Django's 404 warnings off the tests' stderr.
logging.getLogger("django").addHandler(logging.NullHandler())
