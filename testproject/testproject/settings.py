"""Settings of the demo project used by the tests, the demo and the benchmark."""

import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "testproject-insecure-key-for-local-use-only")
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_bolt",
    "users",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "testproject.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

WSGI_APPLICATION = "testproject.wsgi.application"
ASGI_APPLICATION = os.environ.get("BOLT_ASGI_APPLICATION", "testproject.asgi.application")


def _database_from_url(url: str) -> dict:
    from urllib.parse import unquote, urlparse

    parts = urlparse(url)
    if parts.scheme.startswith("postgres"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")) or "postgres",
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
        }
    if parts.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": parts.path or ":memory:"}
    raise ValueError(f"unsupported DATABASE_URL scheme {parts.scheme!r}")


if os.environ.get("BOLT_TEST_DATABASE_URL"):
    DATABASES = {"default": _database_from_url(os.environ["BOLT_TEST_DATABASE_URL"])}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("BOLT_SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
        }
    }

AUTH_PASSWORD_VALIDATORS = []
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
# `make run` collects the static files here; runbolt then serves them from Rust.
STATIC_ROOT = os.environ.get("BOLT_STATIC_ROOT") or str(BASE_DIR / "staticfiles")
# The manifest storage names files by content hash, so it needs them collected first:
# until then (a fresh clone's test run) templates use the plain storage.
_COLLECTED = os.path.exists(os.path.join(STATIC_ROOT, "staticfiles.json"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django_bolt.contrib.static.storage.CompressedManifestStaticFilesStorage"
        if _COLLECTED or "collectstatic" in sys.argv
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = os.environ.get("BOLT_MEDIA_ROOT") or str(BASE_DIR / "media")
MEDIA_URL = "media/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

BOLT = {"HOST": "127.0.0.1", "PORT": 8000}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django_bolt": {"handlers": ["console"], "level": "INFO"},
        "django.server": {"handlers": ["console"], "level": "WARNING"},
    },
}

# Tests that read logs through Python logging: access lines and the Rust side's reports
# to a file, each line prefixed with its logger's name.
if os.environ.get("BOLT_LOG_FILE"):
    LOGGING["formatters"] = {"named": {"format": "%(name)s %(levelname)s %(message)s"}}
    LOGGING["handlers"]["file"] = {
        "class": "logging.FileHandler",
        "filename": os.environ["BOLT_LOG_FILE"],
        "formatter": "named",
    }
    LOGGING["loggers"]["django_bolt.access"] = {"handlers": ["file"], "propagate": False}
    LOGGING["loggers"]["django_bolt.server"] = {"handlers": ["file"], "propagate": False}

# Processes share cache_page answers through Django's cache: a file cache here (Redis,
# Memcached or the database in production).
if os.environ.get("BOLT_FILE_CACHE"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": os.environ["BOLT_FILE_CACHE"],
        }
    }

if os.environ.get("BOLT_TRUSTED_PROXIES"):
    BOLT_TRUSTED_PROXIES = os.environ["BOLT_TRUSTED_PROXIES"].split(",")

# Shared rate limits and revocations across processes (set by tests that need Redis).
BOLT_REDIS_URL = os.environ.get("BOLT_REDIS_URL") or None
BOLT_REDIS_PREFIX = os.environ.get("BOLT_REDIS_PREFIX", "bolt:")

# Tokens for the /secure/ API (tests sign with the same key).
JWT_SECRET_KEY = os.environ.get("JWT_SECRET_KEY", "testproject-jwt-secret-0123456789abcdef")

# WebSocket limits, overridable by tests that exercise them.
BOLT = {
    **BOLT,
    "WS_MAX_MESSAGE": int(os.environ.get("BOLT_WS_MAX_MESSAGE", 1024 * 1024)),
    "WS_PING_INTERVAL": float(os.environ.get("BOLT_WS_PING_INTERVAL", 20)),
    "WS_PING_TIMEOUT": float(os.environ.get("BOLT_WS_PING_TIMEOUT", 20)),
    "WS_MAX_CONNECTIONS": int(os.environ.get("BOLT_WS_MAX_CONNECTIONS", 20_000)),
    "WS_MAX_CONNECTIONS_PER_CLIENT": int(os.environ.get("BOLT_WS_MAX_PER_CLIENT", 0)),
}
