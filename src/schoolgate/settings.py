"""Django settings, read from the environment (see `.env.example`).

Secure by default: DEBUG is off unless asked for, the secret key is either given or generated once and kept
in the var folder with owner-only permissions, and the embedded database is SQLite in that same folder.
PostgreSQL is used when SCHOOLGATE_DATABASE_URL is set.
"""

import secrets
from pathlib import Path
from urllib.parse import urlsplit

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
# The address people reach the portal at: links in e-mails, the OIDC issuer, and whether cookies are Secure.
SCHOOLGATE_BASE_URL = env_str("BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
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
    "schoolgate.admins",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "schoolgate.api",
    "schoolgate.scim",
    "schoolgate.integrations",
    "schoolgate.oidc",
    "oauth2_provider",
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
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "schoolgate.core.error_pages.MethodNotAllowedPageMiddleware",  # a form's address opened directly: a page
    "schoolgate.core.admission.OverloadMiddleware",  # past hashing capacity: 503 at once, not a time-out
    "axes.middleware.AxesMiddleware",  # last: it turns a lockout into the lockout response
]

# Admin logins (the console): django-axes locks an account, and separately an IP address, after repeated
# failures; the lock lifts by itself after the cool-off. Portal logins have their own per-account lockout.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("ADMIN_LOGIN_FAILURES", 5)
AXES_COOLOFF_TIME = env_int("ADMIN_LOCKOUT_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "console/locked_out.html"
AXES_VERBOSE = False

# A strict Content-Security-Policy: everything from this origin, nothing inline (styles live in static files).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}

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
            # Keep each thread's connection between requests: opening one (and running the PRAGMAs) cost
            # about as much as the rest of a portal page (BENCHMARKS.md, login).
            "CONN_MAX_AGE": env_int("DB_CONN_MAX_AGE", 60),
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Argon2id at OWASP's recommended parameters (m=19 MiB, t=2, p=1); older hashes upgrade on next login.
# Ours is the only "argon2" hasher listed: Django picks a verifier by algorithm name, the last listed wins,
# and only ours takes a hashing slot (core/admission.py). It verifies argon2 hashes of any parameters and
# flags them for upgrade.
PASSWORD_HASHERS = [
    "schoolgate.core.hashers.OwaspArgon2PasswordHasher",
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

SESSION_ENGINE = "schoolgate.core.sessions"  # Django's database sessions, read by fixed SQL statements
SESSION_COOKIE_HTTPONLY = True
# Secure (HTTPS-only) cookies whenever the site is served over HTTPS — its address is https — and by default
# in a production set-up (PostgreSQL, DEBUG off). Not for the embedded demo on http://127.0.0.1:8000: a
# browser never sends a Secure cookie over plain http, so nobody could log in. SCHOOLGATE_SECURE_COOKIES
# decides either way; left empty, as copied from .env.example, it means "the default", not "no".
_secure_cookies = urlsplit(SCHOOLGATE_BASE_URL).scheme == "https" or (not DEBUG and bool(_database_url))
if env_str("SECURE_COOKIES").strip():
    _secure_cookies = env_bool("SECURE_COOKIES")
SESSION_COOKIE_SECURE = _secure_cookies
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_AGE = env_int("SESSION_AGE_SECONDS", 8 * 3600)  # a working day, then log in again
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
OTP_TOTP_ISSUER = env_str("MFA_ISSUER", "Schoolgate")
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Logs go to stderr (the process manager collects them). SCHOOLGATE_LOG_FORMAT=json writes one JSON object per
# line for a log pipeline; "text" is for people reading a terminal.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "schoolgate.core.observability.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": env_str("LOG_FORMAT", "text")}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}
# Password hashing capacity per process (core/admission.py): how many argon2id computations run at once
# (default: the number of cores — with several web processes per machine, cores / processes), how many more may
# wait, and how long; beyond that a login is answered 503 with Retry-After at once.
SCHOOLGATE_HASH_SLOTS = env_int("HASH_SLOTS", 0)
SCHOOLGATE_HASH_WAIT_MS = env_int("HASH_WAIT_MS", 300)
SCHOOLGATE_HASH_QUEUE = env_int("HASH_QUEUE", 2)  # per process: requests that may wait for a slot at once
# /metrics answers loopback callers, or anyone presenting this bearer token (for a Prometheus elsewhere).
SCHOOLGATE_METRICS_TOKEN = env_str("METRICS_TOKEN", "")

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
# (SCHOOLGATE_BASE_URL, the address people reach the portal at, is read near the top: cookies depend on it.)
# Job reports (PDF, CSV).
SCHOOLGATE_REPORTS_DIR = VAR_DIR / "reports"
SCHOOLGATE_INVITATION_DAYS = env_int("INVITATION_DAYS", 7)
SCHOOLGATE_RESET_MINUTES = env_int("RESET_MINUTES", 60)

# How large a share of a district's invited and active accounts one sync may move to ready_to_revoke before
# it is held for confirmation. Each district can set its own; this is the default for new districts.
SCHOOLGATE_REVOKE_GUARD_SHARE = float(env_str("REVOKE_GUARD_SHARE", "0.05"))

# PostgreSQL work_mem for the sync transaction, in MiB (hash joins over a district's people and links).
SCHOOLGATE_SYNC_WORK_MEM_MB = env_int("SYNC_WORK_MEM_MB", 128)


# --- OpenID Connect provider (django-oauth-toolkit; see schoolgate/oidc/) -----------------------------------
def _oidc_rsa_private_key() -> str:
    given = env_str("OIDC_RSA_PRIVATE_KEY")
    if given:
        # A PEM often reaches an environment file on one line, with its newlines written as \n.
        return given.replace("\\n", "\n") if "\n" not in given else given
    # Like the secret key: generated once per installation (owner-only), so ID tokens are signed with a key
    # nobody else has, without any set-up. Written under a temporary name and linked into place, so
    # processes starting together all end up with the one key and never read a half-written file.
    key_file = VAR_DIR / "oidc_rsa_key.pem"
    if not key_file.exists():
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        partial = VAR_DIR / f".oidc_rsa_key.{secrets.token_hex(8)}"
        partial.touch(mode=0o600)
        partial.write_bytes(pem)
        try:
            key_file.hardlink_to(partial)
        except FileExistsError:
            pass  # another process won the race: use its key
        finally:
            partial.unlink()
    return key_file.read_text()


OIDC_RSA_PRIVATE_KEY = _oidc_rsa_private_key()
# The toolkit's default model, named so that migrations referring to it (oidc.OidcClient) can resolve it.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": OIDC_RSA_PRIVATE_KEY,
    # A fixed issuer (not derived from each request's Host header): the same in every ID token and in
    # the discovery document, whatever proxy a request came through.
    "OIDC_ISS_ENDPOINT": f"{SCHOOLGATE_BASE_URL}/oauth",
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "PKCE_REQUIRED": True,
    # RFC 9700 (OAuth 2.0 Security BCP) behaviour now rather than at the toolkit's 4.0: S256 only (never
    # "plain"), no implicit or password grant, bearer tokens never in a URL, `iss` in every authorization
    # response (mix-up defence), access and refresh tokens stored hashed.
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "OAUTH2_VALIDATOR_CLASS": "schoolgate.oidc.validators.SchoolgateValidator",
    "SCOPES": {
        "openid": "Sign you in with your school portal login",
        "profile": "Your name and portal username",
        "email": "Your e-mail address",
        "students": "The students you may see in the portal, with the sections shared with you",
    },
    "DEFAULT_SCOPES": ["openid"],
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],  # codes never travel over plaintext HTTP (RFC 9700 §2.1)
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int("OIDC_ACCESS_TOKEN_SECONDS", 3600),
    "ID_TOKEN_EXPIRE_SECONDS": env_int("OIDC_ACCESS_TOKEN_SECONDS", 3600),
    "REFRESH_TOKEN_EXPIRE_SECONDS": env_int("OIDC_REFRESH_TOKEN_SECONDS", 30 * 24 * 3600),
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # A person who already allowed an app with these scopes is not asked again.
    "REQUEST_APPROVAL_PROMPT": "auto",
}
