"""Database sessions, read by fixed SQL statements.

Django's database session store, with its two reads on the request path (load a session, and the collision
check when a login creates one) as single fixed statements instead of querysets: every portal page loads its
session, and building the ORM query cost more than running it (BENCHMARKS.md, login — portal page). Writes,
expiry and `clearsessions` are Django's own. Set as SESSION_ENGINE.
"""

from __future__ import annotations

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone

from schoolgate.core import sql


class SessionStore(DatabaseSessionStore):
    def _get_session_from_db(self) -> Session | None:
        if self.session_key is None:  # no cookie, or one that is not a well-formed key
            return None
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT session_data FROM {sql.table(Session)} WHERE session_key = %s AND expire_date > %s",
                [self.session_key, sql.db_datetime(timezone.now())],
            )
            row = cursor.fetchone()
        if row is None:  # unknown or expired: as Django does, forget the key so a new one is made
            self._session_key = None
            return None
        return Session(session_key=self.session_key, session_data=row[0])

    def exists(self, session_key: str) -> bool:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {sql.table(Session)} WHERE session_key = %s", [session_key])
            return cursor.fetchone() is not None
