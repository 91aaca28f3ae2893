"""chmanager settings, all from the environment (django-environ). `.env.example` lists each one.

A first run needs nothing set: SQLite and the library under ./data/. Production is
DEBUG=False, which needs SECRET_KEY and ALLOWED_HOSTS and turns on secure cookies, HTTPS redirect
and HSTS (`manage.py check --deploy` passes); it also sets DATABASE_URL (PostgreSQL). Any
variable can instead name a file holding its value, as ``SECRET_KEY_FILE`` (Docker secrets).
"""
from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BASE_DIR / "data"

env = environ.FileAwareEnv()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="") or ("dev-only-insecure-key" if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set and DEBUG=False (production): set SECRET_KEY (or SECRET_KEY_FILE) "
        "to a long random string, e.g. the output of "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'. See .env.example.")
# Old keys still accepted for sessions and signatures while a new SECRET_KEY rolls out.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "django_tasks_db",  # the db backend's task table (harmless when TASKS_BACKEND=rq)
    "django_rq",
    "content",
]

MIDDLEWARE = [
    # Outermost, so their times cover the whole stack and refused requests count too.
    "chmanager.request_log.RequestLogMiddleware",
    "content.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before the session and CSRF middleware read anything of an oversized body.
    "chmanager.upload_limits.UploadLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "chmanager.urls"
WSGI_APPLICATION = "chmanager.wsgi.application"

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
                "content.context_processors.site",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'chmanager.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The embedded default: make its folder on a first run.
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG else "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}

# Uploads above this size are spooled to a temporary file, never held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_HANDLERS = [
    "chmanager.upload_limits.FileSizeLimitHandler",  # stops an upload past its size limits
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Empty means the system temp folder (an empty string would make Django write to the cwd).
FILE_UPLOAD_TEMP_DIR = env.str("FILE_UPLOAD_TEMP_DIR", default="") or None
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("UPLOAD_MAX_FILES", default=100)

# --- The library ---------------------------------------------------------------------------
LIBRARY_ROOT = env.path("LIBRARY_ROOT", default=DATA_DIR / "library")
SONGS_FOLDER = env.str("SONGS_FOLDER", default="Songs")
if "LIBRARY_ROOT" not in env.ENVIRON:
    # The embedded default is made on a first run; a configured root is never created, so an
    # unmounted disk shows as unreachable instead of as an empty library.
    (Path(LIBRARY_ROOT) / SONGS_FOLDER).mkdir(parents=True, exist_ok=True)
SCRATCH_ROOT = env.path("SCRATCH_ROOT", default=DATA_DIR / "scratch")
# A sync that would mark more than this share of the library removed stops without changing
# anything unless run with --confirm-removals (an empty listing is more likely a fault).
SYNC_MAX_REMOVED_FRACTION = env.float("SYNC_MAX_REMOVED_FRACTION", default=0.5)
# Processes that parse charts during a large sync: 0 = one per CPU, 1 = none (parse in the
# sync's own threads). Chart parsing is pure Python, so threads alone use one core.
SYNC_WORKERS = env.int("SYNC_WORKERS", default=0)
# Longest audio file the chart generator takes (minutes): it holds the whole song in memory
# (content/generator/audio.py MAX_SECONDS, the generator's own default, says how much).
GENERATOR_MAX_MINUTES = env.float("GENERATOR_MAX_MINUTES", default=60.0)

# --- Archive import limits (bytes / counts); see ../shared/reference/reliability.md §1.6 ---
IMPORT_MAX_UPLOAD_BYTES = env.int("IMPORT_MAX_UPLOAD_BYTES", default=2 * 1024**3)  # all files
UPLOAD_MAX_FILE_BYTES = env.int("UPLOAD_MAX_FILE_BYTES", default=IMPORT_MAX_UPLOAD_BYTES)  # one
IMPORT_MAX_ENTRIES = env.int("IMPORT_MAX_ENTRIES", default=10_000)
IMPORT_MAX_TOTAL_BYTES = env.int("IMPORT_MAX_TOTAL_BYTES", default=8 * 1024**3)
IMPORT_MAX_ENTRY_BYTES = env.int("IMPORT_MAX_ENTRY_BYTES", default=1024**3)

# --- Logging: loguru for our code; Django's logging is routed into it (chmanager.logging) ---
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING_CONFIG = None

from chmanager.logging import configure_logging  # noqa: E402  (needs LOG_LEVEL above)

configure_logging(LOG_LEVEL)

# --- Production hardening (defaults follow DEBUG; `manage.py check --deploy` passes) ---
# Behind a TLS-terminating reverse proxy, TRUST_PROXY_HEADERS=True makes Django take
# X-Forwarded-Proto: https as an HTTPS request. Only when the proxy always sets that header:
# otherwise any client could claim HTTPS.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool(
    "TRUST_PROXY_HEADERS", default=False) else None
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# The container's health check and Prometheus reach the app over plain HTTP inside its network.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# W021 only reports that HSTS preload is off: preloading binds the whole domain and is its
# owner's decision (hstspreload.org), not a default for a self-hosted app.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

# --- Background jobs (content/tasks.py, content/library/jobs.py) ---------------------------
# Every long job is a django.tasks task. "db" (default): django-tasks-db keeps the queue in the
# database, run `manage.py db_worker`. "rq": Redis at REDIS_URL, run
# `manage.py rqworker --job-class django_tasks_rq.Job` on as many hosts as needed.
TASKS_BACKEND = env.str("TASKS_BACKEND", default="db")
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
_TASK_BACKENDS = {"db": "django_tasks_db.DatabaseBackend", "rq": "django_tasks_rq.RQBackend"}
if TASKS_BACKEND not in _TASK_BACKENDS:
    raise ImproperlyConfigured(
        f"TASKS_BACKEND={TASKS_BACKEND!r}: use db (the database, the default) or rq (Redis).")
TASKS = {"default": {"BACKEND": _TASK_BACKENDS[TASKS_BACKEND], "QUEUES": ["default"]}}
RQ_QUEUES = {"default": {
    # A stopped Redis must fail an enqueue within seconds, not hang the web request.
    "URL": REDIS_URL + ("&" if "?" in REDIS_URL else "?") + "socket_connect_timeout=5",
    # RQ kills a job after 180 s by default; a sync or a generation may run for hours. The
    # job's own heartbeat tells a dead worker from a slow one (jobs.jobs_fail_stale).
    "DEFAULT_TIMEOUT": -1,
}}

# --- Metrics: /metrics for Prometheus, with Authorization: Bearer <METRICS_TOKEN> ---
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")  # empty: /metrics answers 404

# --- Nextcloud WebDAV -----------------------------------------------------------------------
# When NEXTCLOUD_URL is set the library lives on Nextcloud at
# <NEXTCLOUD_URL>/remote.php/dav/files/<user id>/<NEXTCLOUD_ROOT>/ (content/storage/webdav/);
# unset, the local folder LIBRARY_ROOT stays the embedded default.
NEXTCLOUD_URL = env.str("NEXTCLOUD_URL", default="")  # e.g. https://cloud.example.com
NEXTCLOUD_USER = env.str("NEXTCLOUD_USER", default="")  # the login name
# An app password (Personal settings → Security), never the account password; a wrong one is
# never retried (brute-force protection would throttle this IP).
NEXTCLOUD_APP_PASSWORD = env.str("NEXTCLOUD_APP_PASSWORD", default="")
NEXTCLOUD_ROOT = env.str("NEXTCLOUD_ROOT", default="CloneHero")  # folder in the user's files
NEXTCLOUD_SONGS_FOLDER = env.str("NEXTCLOUD_SONGS_FOLDER", default=SONGS_FOLDER)
NEXTCLOUD_BACKGROUNDS_FOLDER = env.str("NEXTCLOUD_BACKGROUNDS_FOLDER", default="Backgrounds")
NEXTCLOUD_COLORS_FOLDER = env.str("NEXTCLOUD_COLORS_FOLDER", default="Colors")
NEXTCLOUD_HIGHWAYS_FOLDER = env.str("NEXTCLOUD_HIGHWAYS_FOLDER", default="Highways")
NEXTCLOUD_CONCURRENCY = env.int("NEXTCLOUD_CONCURRENCY", default=8)  # connections / sync threads
NEXTCLOUD_TIMEOUT = env.float("NEXTCLOUD_TIMEOUT", default=60.0)  # read timeout, seconds
NEXTCLOUD_CHUNK_THRESHOLD = env.int("NEXTCLOUD_CHUNK_THRESHOLD", default=50 * 1024**2)  # bytes
NEXTCLOUD_CHUNK_SIZE = env.int("NEXTCLOUD_CHUNK_SIZE", default=10 * 1024**2)  # 5 MiB–5 GiB
NEXTCLOUD_RETRIES = env.int("NEXTCLOUD_RETRIES", default=5)  # extra attempts on 423/429/5xx
if NEXTCLOUD_URL:
    # Library paths keep the "<songs folder>/Artist/Song" shape on either storage.
    SONGS_FOLDER = NEXTCLOUD_SONGS_FOLDER
    # Django's storage API on the same server, for file fields that need it.
    STORAGES["nextcloud"] = {"BACKEND": "content.storage.django_storage.NextcloudStorage"}

# The folder sync_library scans: the whole local library, or only the songs folder on
# Nextcloud, whose chmanager root also holds Backgrounds, Colors and Highways.
SYNC_FOLDER = env.str("SYNC_FOLDER", default=SONGS_FOLDER if NEXTCLOUD_URL else "")
