"""Django settings, read from the environment (see `.env.example`).

Secure by default: DEBUG is off unless asked for, the secret key is either given or generated once and kept
in the var folder with owner-only permissions, and the embedded database is SQLite in that same folder.
PostgreSQL is used when SCHOOLGATE_DATABASE_URL is set.
"""

import secrets
from pathlib import Path

import dj_database_url

from schoolgate.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(env_str("VAR_DIR", str(Path.cwd() / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    given = env_str("SECRET_KEY")
    if given:
        return given
    # Generated once per installation so the embedded default needs no set-up, yet is never a shared,
    # published key.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "schoolgate.core",
    "schoolgate.people",
    "schoolgate.accounts",
    "schoolgate.sync",
    "schoolgate.mail",
    "schoolgate.jobs",
    "schoolgate.portal",
    "schoolgate.console",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "schoolgate.urls"
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:home"
WSGI_APPLICATION = "schoolgate.wsgi.application"

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
                "schoolgate.console.context.console",
            ],
        },
    },
]

_database_url = env_str("DATABASE_URL")
if _database_url:
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "schoolgate.sqlite3",
            # WAL lets the web server read while a sync writes; IMMEDIATE makes writers queue for the lock
            # up front instead of failing half-way with "database is locked".
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
            },
            "TEST": {"NAME": VAR_DIR / "test.sqlite3"} if env_bool("TEST_SQLITE_FILE", False) else {},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Argon2id at OWASP's recommended parameters (m=19 MiB, t=2, p=1); older hashes upgrade on next login.
PASSWORD_HASHERS = [
    "schoolgate.core.hashers.OwaspArgon2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise serves from it; it warns on every request when absent
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG and bool(_database_url))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_AGE = env_int("SESSION_AGE_SECONDS", 8 * 3600)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}

# Background work (account generation, mail delivery) runs in `schoolgate db_worker` from a queue in the
# database itself: the embedded SQLite file or PostgreSQL. No broker to install.
TASKS = {
    "default": {
        "BACKEND": env_str("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default", "mail"],
    }
}

# Outgoing mail: smtp://user:password@host:port (STARTTLS when the server offers it), smtps://… for TLS from the
# start. Unset: every message is written as a .eml file under var/mail/ (the embedded default).
SCHOOLGATE_SMTP_URL = env_str("SMTP_URL")
SCHOOLGATE_MAIL_FROM = env_str("MAIL_FROM", "Schoolgate <no-reply@localhost>")
SCHOOLGATE_MAIL_DIR = VAR_DIR / "mail"
# The address people reach the portal at, for links in e-mails.
SCHOOLGATE_BASE_URL = env_str("BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# Job reports (PDF, CSV).
SCHOOLGATE_REPORTS_DIR = VAR_DIR / "reports"
SCHOOLGATE_INVITATION_DAYS = env_int("INVITATION_DAYS", 7)
SCHOOLGATE_RESET_MINUTES = env_int("RESET_MINUTES", 60)

# How large a share of a district's invited and active accounts one sync may move to ready_to_revoke before
# it is held for confirmation. Each district can set its own; this is the default for new districts.
SCHOOLGATE_REVOKE_GUARD_SHARE = float(env_str("REVOKE_GUARD_SHARE", "0.05"))

# PostgreSQL work_mem for the sync transaction, in MiB (hash joins over a district's people and links).
SCHOOLGATE_SYNC_WORK_MEM_MB = env_int("SYNC_WORK_MEM_MB", 128)
