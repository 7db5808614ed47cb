"""Password hashing: argon2id at OWASP's recommended parameters.

OWASP's Password Storage Cheat Sheet recommends argon2id with m=19 MiB, t=2, p=1 as the minimum. Django's
default Argon2 parameters differ, so this subclass pins them; because it is listed first in
PASSWORD_HASHERS, any older hash (other parameters, PBKDF2) is upgraded transparently at the next login.

Hashing and verifying take a slot of `core.admission`: past the machine's hashing capacity a request is
refused at once (503) rather than queued into a time-out.
"""

from django.contrib.auth.hashers import Argon2PasswordHasher

from schoolgate.core.admission import hashing_slot


class OwaspArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id, m=19 MiB, t=2, p=1."""

    algorithm = "argon2"
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1

    def encode(self, password: str, salt: str) -> str:
        with hashing_slot():
            return super().encode(password, salt)

    def verify(self, password: str, encoded: str) -> bool:
        with hashing_slot():
            return super().verify(password, encoded)
