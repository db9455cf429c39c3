"""Tributary settings, read from the environment and validated at start-up.

Defaults make ``make run`` work on a bare machine (SQLite, Celery eager);
production sets DATABASE_URL, SECRET_KEY, DEBUG=false, ALLOWED_HOSTS and
CELERY_BROKER_URL.
"""

from __future__ import annotations

import re
from pathlib import Path

from corsheaders.defaults import default_headers as default_cors_headers
from django.core.exceptions import ImproperlyConfigured

from cdp_site.env import env_bool, env_int, env_list, env_str, parse_database_url
from core.crypto import development_key, parse_keys

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
_INSECURE_DEV_KEY = "django-insecure-tributary-dev-only-key-change-me-in-production-0123456789"
SECRET_KEY = env_str("SECRET_KEY", _INSECURE_DEV_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
if not DEBUG and SECRET_KEY == _INSECURE_DEV_KEY:
    raise ImproperlyConfigured("SECRET_KEY must not be the development key when DEBUG is off")

# Secrets Tributary must read back (webhook signing secrets) are encrypted
# with these Fernet keys, newest first (core/crypto.py). Development mode
# without keys derives one from SECRET_KEY; `check --deploy` refuses that and
# a missing key.
TRIBUTARY_ENCRYPTION_KEYS = parse_keys(env_list("TRIBUTARY_ENCRYPTION_KEYS", []))
if not TRIBUTARY_ENCRYPTION_KEYS and DEBUG:
    TRIBUTARY_ENCRYPTION_KEYS = [development_key(SECRET_KEY)]

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "core",  # first: the base layer every app builds on
    # django-unfold's admin theme: before django.contrib.admin, and its
    # integrations before the apps whose templates they restyle.
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "unfold.contrib.simple_history",
    "unfold.contrib.import_export",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "dj_rest_auth",
    "django_filters",
    "drf_spectacular",
    "corsheaders",
    "import_export",
    "simple_history",
    "accounts",
    "customers",
    "consent",
    "segments",
    "sources",
    "destinations",
    "insights",
    "backoffice",  # last: the admin dashboard and 360° page read every app
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Production serves STATIC_ROOT from the app itself (compressed, hashed,
    # long-cached), so the documented deployment needs no static server;
    # development serves the source files through django.contrib.staticfiles.
    *([] if DEBUG else ["whitenoise.middleware.WhiteNoiseMiddleware"]),
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "core.audit.AuditActorMiddleware",
]

ROOT_URLCONF = "cdp_site.urls"
WSGI_APPLICATION = "cdp_site.wsgi.application"
ASGI_APPLICATION = "cdp_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

DATABASES = {
    "default": parse_database_url(
        env_str("DATABASE_URL", "sqlite:///var/tributary.sqlite3"), base_dir=BASE_DIR
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# Sign-in throttling (accounts/login_throttle.py): after this many failures
# for one user name from one address, that pair is locked out for this long.
AUTHENTICATION_BACKENDS = ["accounts.login_throttle.ThrottledModelBackend"]
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 900, minimum=1)
# The admin theme (django-unfold): names and the sidebar's search.
UNFOLD = {
    "SITE_TITLE": "Tributary",
    "SITE_HEADER": "Tributary CDP",
    "SITE_SYMBOL": "hub",
    "SHOW_HISTORY": True,
    "SIDEBAR": {"show_search": True, "show_all_applications": True},
}

# The admin dashboard's figures are cached this long (backoffice/dashboard.py).
DASHBOARD_CACHE_SECONDS = env_int("DASHBOARD_CACHE_SECONDS", 300, minimum=0)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Production serves hashed, compressed copies made by `collectstatic`;
# development (and the tests) serve the source files as they are.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# A file missing from the manifest is served under its plain name rather than
# failing the page that links it.
WHITENOISE_MANIFEST_STRICT = False
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
MEDIA_URL = "media/"

# --- Security -------------------------------------------------------------
# SSL redirect is on by default in production; set SECURE_SSL_REDIRECT=false
# for plain HTTP on loopback or behind a TLS-terminating proxy.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

# --- Celery -----------------------------------------------------------------
# Without a broker every task runs inline (eager), so the embedded default
# needs nothing but Python.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env_int("CELERY_WORKER_PREFETCH_MULTIPLIER", 4, minimum=1)
CELERY_TASK_SERIALIZER = "json"
# A worker killed mid-task loses nothing: the broker redelivers unacknowledged
# tasks (acks_late). On Redis that happens after the visibility timeout.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=1),
}
# Redis only: a prefix for every key, so several deployments (or test runs)
# can share one Redis database without stealing each other's tasks.
if env_str("CELERY_REDIS_KEY_PREFIX", ""):
    CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = env_str("CELERY_REDIS_KEY_PREFIX", "")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker keeps its database connections between tasks (Celery would open new
# ones for each task) and recycles them every this many tasks; a connection
# that broke or passed CONN_MAX_AGE is closed after its task (cdp_site/celery.py).
CELERY_DB_REUSE_MAX = 1000
# One queue per kind of work, so a big import cannot starve live events.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = (
    [
        ("sources.tasks.*import*", {"queue": "imports"}),
        ("sources.tasks.*", {"queue": "ingest"}),
        ("segments.tasks.*", {"queue": "segments"}),
        ("destinations.tasks.*", {"queue": "deliveries"}),
        ("consent.tasks.*", {"queue": "privacy"}),
    ],
)
TRIBUTARY_CELERY_QUEUES = ("ingest", "imports", "segments", "deliveries", "privacy", "default")
CELERY_ACCEPT_CONTENT = ["json"]
# Periodic work (Celery beat); each app adds its entries here.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "maintain-event-partitions": {
        "task": "customers.tasks.maintain_event_partitions",
        "schedule": 6 * 60 * 60,
    },
    "purge-old-intake": {"task": "sources.tasks.purge_old_intake", "schedule": 60 * 60},
    # Import batches a broker lost (a worker SIGKILLed at the wrong instant) are sent again.
    "resend-import-batches": {"task": "sources.tasks.resend_import_batches", "schedule": 60},
    # Uploaded files whose job was never saved (a crash mid-upload).
    "purge-orphan-uploads": {"task": "sources.tasks.purge_orphan_uploads", "schedule": 60 * 60},
    # Webhooks: turn outbox entries into deliveries, and send due retries.
    "destinations-dispatch-outbox": {
        "task": "destinations.tasks.dispatch_outbox",
        "schedule": float(env_int("TRIBUTARY_WEBHOOK_DISPATCH_SECONDS", 5, minimum=1)),
    },
    "destinations-retry-due": {
        "task": "destinations.tasks.retry_due",
        "schedule": float(env_int("TRIBUTARY_WEBHOOK_DISPATCH_SECONDS", 5, minimum=1)),
    },
    # Time-based rules ("within the last 30 days") change without any new data.
    "recompute-all-segments": {
        "task": "segments.tasks.recompute_all_segments",
        "schedule": env_int("SEGMENTS_RECOMPUTE_MINUTES", 15, minimum=1) * 60,
    },
    # RFM, lifecycle, scores and predictions (insights); purchases between runs.
    "insights-compute": {
        "task": "insights.tasks.compute_insights",
        "schedule": env_int("TRIBUTARY_INSIGHTS_COMPUTE_HOURS", 24, minimum=1) * 3600,
    },
    "insights-train": {
        "task": "insights.tasks.train_models",
        "schedule": env_int("TRIBUTARY_INSIGHTS_TRAIN_HOURS", 168, minimum=1) * 3600,
    },
    "insights-follow-purchases": {
        "task": "insights.tasks.follow_purchases",
        "schedule": float(env_int("TRIBUTARY_INSIGHTS_PURCHASE_SECONDS", 60, minimum=1)),
    },
}
CELERY_TIMEZONE = TIME_ZONE

# --- Cache -------------------------------------------------------------------
# Per-process memory by default; set CACHE_URL=redis://… so rate limits, login
# throttling and cached figures are shared by all web processes.
CACHE_URL = env_str("CACHE_URL", "")
if CACHE_URL and not CACHE_URL.startswith(("redis://", "rediss://")):
    raise ImproperlyConfigured(f"CACHE_URL must be a redis:// URL, got {CACHE_URL!r}")
CACHES = {
    "default": (
        {"BACKEND": "core.cache.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- REST API ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "accounts.api.schema.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        "accounts.api.authentication.AuthTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "accounts.api.permissions.HasScope",
        "accounts.api.masking.NoContactLookups",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["accounts.api.throttling.ApiRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_PARSER_CLASSES": [
        "sources.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
}
# A working API key is remembered by each process this long (no query per
# request); a revoked key stops working within it (at once in the process
# that revoked it). 0: check the database on every request.
TRIBUTARY_API_KEY_CACHE_SECONDS = env_int("TRIBUTARY_API_KEY_CACHE_SECONDS", 5, minimum=0)
# Requests per API key (or signed-in person, or anonymous address), e.g. 1200/minute.
TRIBUTARY_API_RATE = env_str("API_RATE_LIMIT", "1200/minute")
if not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", TRIBUTARY_API_RATE):
    raise ImproperlyConfigured(
        f"API_RATE_LIMIT must look like 1200/minute (per second/minute/hour/day), "
        f"got {TRIBUTARY_API_RATE!r}"
    )
SPECTACULAR_SETTINGS = {
    "TITLE": "Tributary CDP API",
    "DESCRIPTION": "Profiles, events, segments, consent and privacy requests.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # choice sets that share a field name get their own schema names
    "ENUM_NAME_OVERRIDES": {
        "SourceKindEnum": "sources.models.Source.Kind",
        "ImportKindEnum": "sources.models.ImportJob.Kind",
    },
}
# Sign-in tokens are stored as SHA-256 digests (accounts.AuthToken): the key is
# in the login response only, and every sign-in gets its own.
REST_AUTH = {
    "SESSION_LOGIN": True,
    "TOKEN_MODEL": "accounts.models.AuthToken",
    "TOKEN_CREATOR": "accounts.api.authentication.issue_login_token",
    "TOKEN_SERIALIZER": "accounts.api.authentication.LoginTokenSerializer",
}

# --- Tributary --------------------------------------------------------------
# Default region for parsing phone numbers written without a country code.
TRIBUTARY_DEFAULT_PHONE_REGION = env_str("TRIBUTARY_DEFAULT_PHONE_REGION", "US")
# Identity resolution never lets one message merge more than this many
# existing profiles into another (no "mega profiles").
TRIBUTARY_MAX_MERGE_PROFILES = env_int("TRIBUTARY_MAX_MERGE_PROFILES", 5, minimum=1)

# One purchase definition for every part that reads orders (lifetime value,
# RFM, predictions, order-file imports): the event name, and its revenue
# property ("revenue", else "total", as in Segment's e-commerce spec).
TRIBUTARY_PURCHASE_EVENT = env_str("TRIBUTARY_PURCHASE_EVENT", "Order Completed").strip()
if not TRIBUTARY_PURCHASE_EVENT or len(TRIBUTARY_PURCHASE_EVENT) > 200:
    raise ImproperlyConfigured(
        "TRIBUTARY_PURCHASE_EVENT must be an event name of 1 to 200 characters, "
        f"got {TRIBUTARY_PURCHASE_EVENT!r}"
    )

# Months of events kept on PostgreSQL (whole monthly partitions are dropped);
# 0 keeps everything.
TRIBUTARY_EVENT_RETENTION_MONTHS = env_int("TRIBUTARY_EVENT_RETENTION_MONTHS", 0, minimum=0)
# Days raw tracking calls are kept once processed (and refused calls at all):
# their payloads hold personal data. Failed calls stay until replayed.
TRIBUTARY_INTAKE_RETENTION_DAYS = env_int("TRIBUTARY_INTAKE_RETENTION_DAYS", 30, minimum=0)

IMPORT_EXPORT_USE_TRANSACTIONS = True


# Webhooks (destinations). Outbound URLs may not reach loopback, link-local,
# private, multicast or reserved addresses (SSRF) unless listed here: host
# names, addresses or CIDR networks.
TRIBUTARY_WEBHOOK_ALLOWED_HOSTS = env_list("TRIBUTARY_WEBHOOK_ALLOWED_HOSTS", [])
# Allow private (RFC 1918, fc00::/7) and shared (100.64/10) ranges, for
# receivers on an internal network. Loopback and link-local stay refused.
TRIBUTARY_WEBHOOK_ALLOW_PRIVATE = env_bool("TRIBUTARY_WEBHOOK_ALLOW_PRIVATE", False)
TRIBUTARY_WEBHOOK_TIMEOUT = env_int("TRIBUTARY_WEBHOOK_TIMEOUT", 10, minimum=1)
# Up to this many percent is added at random to each retry delay.
TRIBUTARY_WEBHOOK_RETRY_JITTER = env_int("TRIBUTARY_WEBHOOK_RETRY_JITTER", 10, minimum=0)
# How long the previous secret keeps signing after a rotation.
TRIBUTARY_WEBHOOK_SECRET_OVERLAP_HOURS = env_int(
    "TRIBUTARY_WEBHOOK_SECRET_OVERLAP_HOURS", 24, minimum=0
)
# A destination failing for longer than this is flagged in the admin.
TRIBUTARY_WEBHOOK_FAILING_ALERT_MINUTES = env_int(
    "TRIBUTARY_WEBHOOK_FAILING_ALERT_MINUTES", 60, minimum=1
)

# Tracking API (/v1/): browsers call it directly, so CORS is open there and
# only there. A rotated or disabled write key stops working within this many
# seconds (each server process caches key look-ups).
CORS_URLS_REGEX = r"^/v1/.*$"
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_HEADERS = (*default_cors_headers, "content-encoding", "if-none-match")
CORS_EXPOSE_HEADERS = ["ETag"]
TRIBUTARY_WRITE_KEY_CACHE_SECONDS = env_int("TRIBUTARY_WRITE_KEY_CACHE_SECONDS", 5, minimum=0)
# GET /v1/personalize: Cache-Control max-age of its answers (0: browsers
# revalidate every page view, a 304 when nothing changed)
TRIBUTARY_PERSONALIZE_MAX_AGE = env_int("TRIBUTARY_PERSONALIZE_MAX_AGE", 0, minimum=0)
# Cached profile documents (REST profile answers, personalization) expire
# after this long even without a change, so time-windowed computed traits move on.
TRIBUTARY_PROFILE_DOCUMENT_SECONDS = env_int("TRIBUTARY_PROFILE_DOCUMENT_SECONDS", 300, minimum=1)
# Warm profile reads (/v1/personalize, the REST profile) answered on the event
# loop without Django's request machinery (sources/personalization/warm.py);
# PostgreSQL and Redis (CACHE_URL) only.
TRIBUTARY_WARM_READS = env_bool("TRIBUTARY_WARM_READS", True)
# A worker task applies its own request's calls plus other calls still waiting
# (their own tasks then find nothing to do), up to this many per transaction:
# per-batch costs are shared, 100-call requests are processed 1000 at a time.
TRIBUTARY_INTAKE_BATCH_SIZE = env_int("TRIBUTARY_INTAKE_BATCH_SIZE", 1000, minimum=1)
# Uploaded import files (admin and REST API) larger than this are refused
# before they are parsed; the ASGI server refuses bodies past it (plus room
# for the form) before reading them. ``import_customers`` is not limited.
TRIBUTARY_MAX_UPLOAD_MB = env_int("TRIBUTARY_MAX_UPLOAD_MB", 50, minimum=1)
# A running import that has applied no batch for this long has the batches it
# is missing sent again (a broker can lose one; a duplicate is applied once).
TRIBUTARY_IMPORT_STALL_SECONDS = env_int("TRIBUTARY_IMPORT_STALL_SECONDS", 600, minimum=1)

# One filter on every handler masks emails, phone numbers and secrets (write
# keys, API keys, tokens) in messages, their arguments and tracebacks
# (accounts/masking.py). Celery workers log through this configuration
# too (cdp_site/celery.py).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "accounts.masking.RedactContactDetails"}},
    "formatters": {
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact"]},
        # runserver's request lines (Django's own handler would skip the filter)
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact"],
        },
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}

# Messages can carry a secret shown once (new write keys, API keys): keep
# them server-side rather than in a client cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
