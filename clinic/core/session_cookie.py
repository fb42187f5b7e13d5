"""The session cookie, sealed: encrypted and authenticated, not merely signed.

Flask's own cookie is signed but readable by anyone who holds it (base64 of
JSON), and flashed messages travel in it: "Sheila Butler is registered…",
"Contact recorded: …". A cookie copied from a shared computer, a proxy log or
a browser profile must not give away who the clinic treats (SECURITY.md D9),
so the whole session is sealed with Fernet (AES-CBC with an HMAC) under a key
derived from ``SECRET_KEY``. Keys in ``SECRET_KEY_FALLBACKS`` still open
cookies sealed before a key rotation.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature

_SALT = b"clinic session cookie"


def _fernet_key(secret: str | bytes) -> Fernet:
    material = secret.encode() if isinstance(secret, str) else secret
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=b"fernet").derive(material)
    return Fernet(base64.urlsafe_b64encode(derived))


class _Sealer:
    """What Flask's cookie session expects of its serializer: ``dumps`` and ``loads(max_age=)``."""

    def __init__(self, keys: list[str | bytes]) -> None:
        self._fernet = MultiFernet([_fernet_key(key) for key in keys])
        self._json = TaggedJSONSerializer()

    def dumps(self, data: dict[str, Any]) -> str:
        return self._fernet.encrypt(self._json.dumps(data).encode()).decode("ascii")

    def loads(self, token: str, max_age: int | None = None) -> Any:
        try:
            opened = self._fernet.decrypt(token.encode("ascii"), ttl=max_age)
            return self._json.loads(opened.decode())
        except (InvalidToken, UnicodeError, ValueError) as error:
            # Flask starts an empty session for a cookie it cannot read, as for a bad signature.
            raise BadSignature("session cookie cannot be opened") from error


class SealedCookieSessionInterface(SecureCookieSessionInterface):
    def get_signing_serializer(self, app: Flask) -> _Sealer | None:  # type: ignore[override]
        if not app.secret_key:
            return None
        return _Sealer([app.secret_key, *(app.config.get("SECRET_KEY_FALLBACKS") or [])])
