"""Recado settings: one file, configured only by environment variables (see .env.example)."""

import socket
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from config.env import ImproperlyConfiguredEnv, env_bool, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("RECADO_VAR_DIR", str(BASE_DIR / "var")))

# "development" (the default: SQLite, DEBUG, console e-mail), "production" or "test".
DJANGO_ENV = env_str("DJANGO_ENV", "development")
if DJANGO_ENV not in {"development", "production", "test"}:
    raise ImproperlyConfiguredEnv(f"DJANGO_ENV must be development, production or test, got {DJANGO_ENV!r}")
PRODUCTION = DJANGO_ENV == "production"

if PRODUCTION:
    # Production refuses to guess: every one of these must come from the environment.
    for _name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "FIELD_ENCRYPTION_KEY", "ALLOWED_HOSTS"):
        env_secret(_name, required=True)

DEBUG = env_bool("DEBUG", not PRODUCTION)
SECRET_KEY = env_secret("SECRET_KEY", "dev-insecure-secret-key-change-me-in-production-0123456789abcdef")
# Fernet keys (urlsafe base64, 32 bytes); several comma-separated keys allow rotation, first one encrypts.
FIELD_ENCRYPTION_KEY = env_secret("FIELD_ENCRYPTION_KEY", "ZGV2LW9ubHktZmllbGQta2V5LTMyLWJ5dGVzLWxvbmchIQ==")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
PUBLIC_URL = env_str("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "tenants",
    "instances",
    "contacts",
    "messaging",
    "integrations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tenants.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, so it sees the final response of a locked-out login.
    "axes.middleware.AxesMiddleware",
]
# The chain is loaded sync, as WSGI loads it, even under ASGI (config/handler.py): one thread hand-off per request.

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.context_processors.navigation",
            ],
        },
    },
]


def _database_from_env() -> dict:
    url = env_secret("DATABASE_URL", "")
    if url and url.startswith("postgres"):
        return _postgres_from_env(url)
    if url:
        return dj_database_url.parse(url, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60), conn_health_checks=True)
    # Development default: one SQLite file shared by web, worker and beat. WAL lets readers
    # run beside the writer, IMMEDIATE takes the write lock at BEGIN (no upgrade deadlock),
    # and the busy timeout makes a second writer wait instead of failing "database is locked".
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "recado.sqlite3",
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        },
    }


def _postgres_from_env(url: str) -> dict:
    pooled = env_bool("DATABASE_POOL", PRODUCTION)
    if pooled:
        # Under ASGI every request runs its sync code in a thread of its own, so persistent connections
        # (kept per thread) pile up until PostgreSQL refuses clients; a pool per process bounds them and
        # skips the connect. Pooling requires CONN_MAX_AGE 0.
        config = dj_database_url.parse(url, conn_max_age=0)
        config.setdefault("OPTIONS", {})["pool"] = {
            "min_size": env_int("DATABASE_POOL_MIN_SIZE", 2),
            "max_size": env_int("DATABASE_POOL_MAX_SIZE", 10),
            "timeout": env_int("DATABASE_POOL_TIMEOUT", 10),
        }
    else:
        config = dj_database_url.parse(url, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60), conn_health_checks=True)
    # Values travel as parameters beside the SQL (not quoted into it by psycopg), so a statement a connection
    # runs again and again (every hot-path query: the same SQL, new values) is prepared by PostgreSQL after
    # DATABASE_PREPARE_THRESHOLD runs and then not parsed again (still planned for each run's values, below):
    # on the send benchmark's stack, about a fifth less CPU per message for PostgreSQL and for uvicorn
    # (docs/performance.md, Send).
    # Prepared statements live in their connection, so they are on by default only with our own pool; behind
    # PgBouncer in transaction mode (DATABASE_POOL=false) leave them off unless it keeps them
    # (max_prepared_statements, PgBouncer 1.21 on). 0 turns them off.
    if env_bool("DATABASE_SERVER_SIDE_BINDING", True):
        config.setdefault("OPTIONS", {})["server_side_binding"] = True
        threshold = env_int("DATABASE_PREPARE_THRESHOLD", 5 if pooled else 0)
        if threshold > 0:
            config["OPTIONS"]["prepare_threshold"] = threshold
            # Planned for each run's values all the same: a generic plan cannot use a partial index whose
            # condition names values the query takes as parameters (the outbox's `status IN (...)`), and
            # PostgreSQL switches to one after five runs when it looks no dearer; then every drain's claim read
            # the company's messages, and in a 60 s send benchmark the drains fell a minute behind.
            config["OPTIONS"]["options"] = "-c plan_cache_mode=force_custom_plan"
    return config


DATABASES = {"default": _database_from_env()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_secret("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "recado"),
        # One pool per process: under ASGI each request has its own cache object (tenants/redis_pool.py).
        "OPTIONS": {"pool_class": "tenants.redis_pool.SharedConnectionPool"},
    }
}
# The channel layer's Redis sockets. A publish or reconnect to a Redis that does not answer fails after
# socket_timeout. The subscriber connection only reads, so a peer that vanished without a reset (a NAT or
# firewall forgetting an idle connection) would go unnoticed: TCP keepalive probes it after 30 s of silence
# and the kernel closes it after 3 unanswered probes, and redis-py then reconnects and subscribes again.
_KEEPALIVE = {"TCP_KEEPIDLE": 30, "TCP_KEEPINTVL": 10, "TCP_KEEPCNT": 3}  # Linux's names (macOS lacks some)
_CHANNEL_LAYER_SOCKET = {
    "socket_timeout": 5,
    "socket_keepalive": True,
    "socket_keepalive_options": {getattr(socket, name): value for name, value in _KEEPALIVE.items()
                                 if hasattr(socket, name)},
}
# Redis pub/sub (tenants/channel_layer.py): a group push is one PUBLISH, and each web process fans it out to
# its own sockets. Pub/sub channels are server-wide (the database number does not separate them), so the
# default prefix carries REDIS_URL's database: two sites on one Redis server never hear each other's pushes.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "tenants.channel_layer.PubSubChannelLayer",
        "CONFIG": {"hosts": [{"address": REDIS_URL, **_CHANNEL_LAYER_SOCKET}],
                   "prefix": env_str("CHANNEL_LAYER_PREFIX", f"recado-db{urlsplit(REDIS_URL).path.strip('/') or 0}."),
                   # Pushes a socket may have waiting before its oldest are dropped (a stalled tab).
                   "capacity": env_int("CHANNEL_LAYER_CAPACITY", 100)},
    }
}

AUTH_USER_MODEL = "tenants.User"
AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses a locked-out username/IP before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "tenants.backends.UsernameOrEmailBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 60 * 60 * 24)
INVITATION_TTL = timedelta(days=env_int("INVITATION_TTL_DAYS", 7))

# Login throttling (django-axes): lock a username from one address after repeated failures.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_USERNAME_FORM_FIELD = "username"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("pt-br", _("Portuguese (Brazil)"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "America/Sao_Paulo")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# The largest body read into memory: an API send carries its file as base64 (up to 16 MB, 21.4 MB encoded) and a
# gateway's webhook a received one; Django's default (2.5 MB) refused both. Pages' file uploads stream to disk.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 24 * 1024 * 1024)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "config.storage.StaticFilesStorage"  # hashed + compressed; see its docstring about source maps
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Outside production WhiteNoise serves straight from the finders: no collectstatic step.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG

# Content Security Policy (Django's own middleware). Scripts only from us or with the
# page's nonce; htmx is configured (templates/base.html) not to inject inline styles or eval.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    # Media from an https address too: a file sent by URL (the API's media_url) or received and not copied yet.
    "img-src": [CSP.SELF, "data:", "https:"],
    "media-src": [CSP.SELF, "https:"],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}

# Outgoing e-mail (Django 6.1 MAILERS). Development prints mails to the console.
_EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if PRODUCTION else "django.core.mail.backends.console.EmailBackend",
)
MAILERS = {
    "default": {
        "BACKEND": _EMAIL_BACKEND,
        "OPTIONS": (
            {
                "host": env_str("EMAIL_HOST", "localhost"),
                "port": env_int("EMAIL_PORT", 25),
                "username": env_str("EMAIL_HOST_USER", ""),
                "password": env_secret("EMAIL_HOST_PASSWORD", ""),
                "use_tls": env_bool("EMAIL_USE_TLS", False),
                "timeout": 20,
            }
            if _EMAIL_BACKEND.endswith("smtp.EmailBackend")
            else {}
        ),
    }
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Recado <noreply@localhost>")

# Security: strict in production (manage.py check --deploy passes with no warnings).
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", PRODUCTION)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", PRODUCTION)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("BEHIND_TLS_PROXY", PRODUCTION):
    # The reverse proxy terminates TLS and says so in this header.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# /healthz and /readyz answer load balancers over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tenants.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["tenants.authentication.HasCompany"],
    "DEFAULT_THROTTLE_CLASSES": ["tenants.authentication.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env_str("API_RATE_LIMIT", "600/min")},
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser", "rest_framework.parsers.MultiPartParser"],
    "DEFAULT_PAGINATION_CLASS": "tenants.authentication.PageLimitPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "tenants.problems.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Recado API",
    "DESCRIPTION": "Multi-tenant WhatsApp service desk. Authenticate with `Authorization: Bearer <api key>` "
    "or an `apikey` header. Errors are `application/problem+json` (RFC 9457).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Swagger UI from our own static files: the CSP allows no CDN (and a machine offline reaches none).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # A conversation's status is read (Conversation) and written (PATCH /conversations/{id}): one enum for both.
    "ENUM_NAME_OVERRIDES": {"ConversationStatusEnum": "messaging.models.ConversationStatus",
                            "ContactImportStatusEnum": "contacts.models.ContactImport.Status"},
    # Request bodies are JSON (docs/api.md); the multipart parser stays for lenient clients, undocumented.
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    # Every error as the problem+json it is (401/403/429 everywhere, 400/404/415 where they can happen).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "tenants.openapi.problem_responses"],
}

# Celery: the broker is Redis; queues are named per concern so polling cannot starve sends.
CELERY_BROKER_URL = env_secret("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 60)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 90)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES_NAMES = ["default", "messaging", "polling", "webhooks"]
# Longest countdown we schedule plus the hard time limit, with room (webhook retries use countdowns of
# at most 10 min; later retries wait for the integrations.retry_due_deliveries beat scan).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 60 * 60 * 7}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = False

# Retention (daily beat tasks): days a finished webhook delivery (succeeded, failed or parked), its attempts
# and its event are kept; days a processed or ignored raw gateway webhook body (InboundEvent) is kept.
# Pending deliveries and unprocessed bodies are never deleted.
WEBHOOK_EVENT_RETENTION_DAYS = env_int("WEBHOOK_EVENT_RETENTION_DAYS", 30)
INBOUND_EVENT_RETENTION_DAYS = env_int("INBOUND_EVENT_RETENTION_DAYS", 7)
if min(WEBHOOK_EVENT_RETENTION_DAYS, INBOUND_EVENT_RETENTION_DAYS) < 1:
    raise ImproperlyConfiguredEnv("WEBHOOK_EVENT_RETENTION_DAYS and INBOUND_EVENT_RETENTION_DAYS must be at least 1")

# The inbound drain (instances/inbound.py): stored gateway bodies are applied by at most INBOUND_DRAIN_SLOTS
# tasks per company at once, each running for up to INBOUND_DRAIN_SECONDS before it chains itself; the beat
# wakes a company whose event has waited INBOUND_SWEEP_AFTER_SECONDS (a lost task); an event whose processing
# raised INBOUND_MAX_ATTEMPTS times is marked failed and kept. A drain applies at most INBOUND_DRAIN_BATCH
# pending events per transaction (one when it keeps up; more only when events wait).
INBOUND_DRAIN_SLOTS = env_int("INBOUND_DRAIN_SLOTS", 2)
INBOUND_DRAIN_SECONDS = env_int("INBOUND_DRAIN_SECONDS", 5)
INBOUND_DRAIN_BATCH = env_int("INBOUND_DRAIN_BATCH", 20)
# How long a drain that found nothing waits for a hook's wake-up before it stops (0: it stops at once).
INBOUND_DRAIN_LINGER_MS = env_int("INBOUND_DRAIN_LINGER_MS", 200)
if not 0 <= INBOUND_DRAIN_LINGER_MS <= 5000:
    raise ImproperlyConfiguredEnv("INBOUND_DRAIN_LINGER_MS must be between 0 and 5000")
INBOUND_SWEEP_AFTER_SECONDS = env_int("INBOUND_SWEEP_AFTER_SECONDS", 30)
INBOUND_MAX_ATTEMPTS = env_int("INBOUND_MAX_ATTEMPTS", 5)
if min(INBOUND_DRAIN_SLOTS, INBOUND_DRAIN_SECONDS, INBOUND_DRAIN_BATCH, INBOUND_SWEEP_AFTER_SECONDS,
       INBOUND_MAX_ATTEMPTS) < 1:
    raise ImproperlyConfiguredEnv("INBOUND_DRAIN_SLOTS, INBOUND_DRAIN_SECONDS, INBOUND_DRAIN_BATCH, "
                                  "INBOUND_SWEEP_AFTER_SECONDS and INBOUND_MAX_ATTEMPTS must be at least 1")

# The gateway registered by `make run` / seed_demo as the default server (the simulator in development).
EVOLUTION_URL = env_str("EVOLUTION_URL", "http://127.0.0.1:8081")
EVOLUTION_API_KEY = env_secret("EVOLUTION_API_KEY", "recado-simulator-global-key")
# Messages per minute one instance (WhatsApp number) may send, shared by every worker; bursts of ~5 s.
MESSAGING_SEND_RATE_PER_MINUTE = env_int("MESSAGING_SEND_RATE_PER_MINUTE", 60)
# The outbound drain (messaging/outbound.py): an instance's queued messages are sent by at most
# OUTBOUND_DRAIN_SLOTS tasks at once (each chat always by the same one, in order), each sending batches of up to
# OUTBOUND_DRAIN_BATCH for up to OUTBOUND_DRAIN_SECONDS before it chains itself, lingering up to
# OUTBOUND_DRAIN_LINGER_MS for the next message before it stops; the beat wakes a message left sendable for
# OUTBOUND_SWEEP_AFTER_SECONDS (a lost task). The drains run on the `messaging` queue, which production gives a
# worker of its own (docker-compose.yml's `sender`, with as many children as slots): a campaign's drains never
# hold the children that apply customers' messages (the inbound drain, on `default`).
OUTBOUND_DRAIN_SLOTS = env_int("OUTBOUND_DRAIN_SLOTS", 4)
OUTBOUND_DRAIN_BATCH = env_int("OUTBOUND_DRAIN_BATCH", 20)
OUTBOUND_DRAIN_SECONDS = env_int("OUTBOUND_DRAIN_SECONDS", 10)
OUTBOUND_DRAIN_LINGER_MS = env_int("OUTBOUND_DRAIN_LINGER_MS", 200)
OUTBOUND_SWEEP_AFTER_SECONDS = env_int("OUTBOUND_SWEEP_AFTER_SECONDS", 30)
# Gateway calls one drain has in flight at once, each to a different chat (1: one after the other).
OUTBOUND_SEND_CONCURRENCY = env_int("OUTBOUND_SEND_CONCURRENCY", 4)
if not 1 <= OUTBOUND_SEND_CONCURRENCY <= 32:
    raise ImproperlyConfiguredEnv("OUTBOUND_SEND_CONCURRENCY must be between 1 and 32")
if min(OUTBOUND_DRAIN_SLOTS, OUTBOUND_DRAIN_BATCH, OUTBOUND_DRAIN_SECONDS, OUTBOUND_SWEEP_AFTER_SECONDS) < 1:
    raise ImproperlyConfiguredEnv("OUTBOUND_DRAIN_SLOTS, OUTBOUND_DRAIN_BATCH, OUTBOUND_DRAIN_SECONDS and "
                                  "OUTBOUND_SWEEP_AFTER_SECONDS must be at least 1")
if OUTBOUND_DRAIN_SECONDS > 30:
    raise ImproperlyConfiguredEnv("OUTBOUND_DRAIN_SECONDS must be at most 30 (the drain's task has 60 s)")
if not 0 <= OUTBOUND_DRAIN_LINGER_MS <= 5000:
    raise ImproperlyConfiguredEnv("OUTBOUND_DRAIN_LINGER_MS must be between 0 and 5000")
# Outgoing webhooks refuse loopback, private, link-local and reserved addresses (SSRF) unless this is on;
# `make run` and the tests turn it on so webhooks can reach a receiver on this machine.
WEBHOOKS_ALLOW_PRIVATE_NETWORKS = env_bool("WEBHOOKS_ALLOW_PRIVATE_NETWORKS", False)
# When an agent replies or the phone's owner answers from the phone, the bot pauses for that contact for
# this many minutes (0: until the conversation is closed or someone resumes it).
BOT_AUTO_PAUSE_MINUTES = env_int("BOT_AUTO_PAUSE_MINUTES", 120)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}
