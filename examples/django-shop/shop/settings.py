"""Settings of the example shop, read from the environment the operator gives the app.

The operator sets (see internal/stack/resources: AppEnv, WorkerEnv, ConnectionSecret):

  DATABASE_URL           postgres://app:<password>@<ws>-pooler.<ns>.svc:5432/app (PgBouncer;
                         <ws>-database with database.pooling.mode None)
  DATABASE_DIRECT_URL    postgres://app:<password>@<ws>-database.<ns>.svc:5432/app (PostgreSQL
                         itself; the migration Job gets it as its DATABASE_URL)
  DATABASE_DISABLE_SERVER_SIDE_CURSORS  true in transaction pooling: a server-side cursor
                         lives in one PostgreSQL session, which the pooler does not keep
  REDIS_URL, CACHE_URL   redis://:<password>@<ws>-redis.<ns>.svc:6379/0 (the cache Redis, evicts)
  CELERY_BROKER_URL      redis://:<password>@<ws>-broker.<ns>.svc:6379/0 (never evicts, AOF)
  CACHE_DEFAULT_TIMEOUT  redis.defaultTTL in seconds
  WEB_CONCURRENCY, GUNICORN_CMD_ARGS  read by gunicorn itself, not here

The WebStack sets the app's own variables (config/samples/webstack_v1alpha1_django_shop.yaml):

  DJANGO_SECRET_KEY      required
  DJANGO_ALLOWED_HOSTS   comma-separated public host names (default localhost,127.0.0.1)
  SHOP_PUBLIC_HOSTS      comma-separated Host headers clients use, port included when not
                         80: the Varnish cache key contains the Host, so a PURGE must carry it
  SHOP_VARNISH_URLS      comma-separated Varnish base URLs to PURGE; default VARNISH_URL, which
                         the operator sets to the cache's headless Service
                         (http://shop-cache-headless:8080): every address it resolves to is purged
  DJANGO_HTTPS           1 behind a TLS-terminating load balancer
  DJANGO_DEBUG           1 for development only
"""
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_list(name, default=""):
    """A comma-separated variable as a list without empty items."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name, default):
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number")


def env_bool(name):
    """A true/false variable: true, 1 or yes (any case) is true; unset or anything else false."""
    return os.environ.get(name, "").strip().lower() in ("true", "1", "yes")


def database_from_url(url):
    """DATABASES["default"] from a postgres:// URL as the operator writes it."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ImproperlyConfigured(f"DATABASE_URL must be postgres://..., not {parts.scheme}://")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        # One persistent connection per gunicorn thread and Celery process: what the operator
        # counts into the pooler's max_client_conn (or, without a pooler, max_connections).
        "CONN_MAX_AGE": env_int("DB_CONN_MAX_AGE", 60),
        "OPTIONS": {"connect_timeout": 5},
        # Transaction pooling: QuerySet.iterator() must not DECLARE a cursor WITH HOLD that a
        # later transaction (on another server connection) would not find.
        "DISABLE_SERVER_SIDE_CURSORS": env_bool("DATABASE_DISABLE_SERVER_SIDE_CURSORS"),
    }


DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY is not set (the WebStack passes it from a Secret)")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")

# Behind a TLS-terminating load balancer in front of HAProxy (the stack itself speaks HTTP):
# DJANGO_HTTPS=1 trusts its X-Forwarded-Proto and keeps the cookies on HTTPS.
if os.environ.get("DJANGO_HTTPS", "") == "1":
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "catalog.apps.CatalogConfig",
]

MIDDLEWARE = [
    # First: answers the health path before anything checks the Host header (HAProxy and
    # Varnish probe with the Host of a Service name, which ALLOWED_HOSTS need not list).
    "catalog.middleware.HealthCheckMiddleware",
    "catalog.middleware.InstanceHeaderMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"

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
            ],
        },
    },
]

# The database: DATABASE_URL. Without it (collectstatic while building the image) Django
# has no database and fails on first use.
DATABASES = {"default": database_from_url(os.environ["DATABASE_URL"])} if os.environ.get("DATABASE_URL") else {}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The cache: the cache Redis (CACHE_URL, else REDIS_URL) through django-redis. It evicts
# (allkeys-lru), so every entry is a copy that can be recomputed; a Redis outage degrades
# to uncached queries instead of errors (IGNORE_EXCEPTIONS).
CACHE_URL = os.environ.get("CACHE_URL") or os.environ.get("REDIS_URL", "")
CACHE_TIMEOUT = env_int("CACHE_DEFAULT_TIMEOUT", 300)
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": CACHE_URL,
            "TIMEOUT": CACHE_TIMEOUT,
            "KEY_PREFIX": "shop",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "TIMEOUT": CACHE_TIMEOUT}}

# Celery: the broker Redis (noeviction, append-only file). Tasks write their results to
# PostgreSQL, so there is no result backend. The operator starts workers with
# --queues=<tasks.queues>, default [default]: Celery's own default queue is "celery", so
# name the default queue here or the workers never see a task.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "default")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a task whose worker dies is delivered again: keep tasks idempotent
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Without a broker (development), tasks run inline.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL

# Varnish invalidation (catalog/purge.py).
SHOP_VARNISH_URLS = env_list("SHOP_VARNISH_URLS") or env_list("VARNISH_URL")
SHOP_PUBLIC_HOSTS = env_list("SHOP_PUBLIC_HOSTS")
SHOP_PURGE_TIMEOUT = 2.0
SHOP_HEALTH_PATH = os.environ.get("SHOP_HEALTH_PATH", "/healthz")
SHOP_INSTANCE = os.environ.get("SHOP_INSTANCE") or os.environ.get("HOSTNAME", "")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# collectstatic writes here (the image does it at build time); the app serves it under
# /static/ and Varnish keeps it for a day (cache rule with ignoreCookies).
STATIC_ROOT = os.environ.get("STATIC_ROOT", str(BASE_DIR / "staticfiles"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"catalog": {"level": "INFO"}},
}
