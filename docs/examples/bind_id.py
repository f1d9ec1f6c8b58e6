"""Mints and checks session-gate bound ids in Python (standard library only).

A bound id is <opaque>.<tag>: tag = base64url of the first 16 bytes of
HMAC-SHA256(ORIGIN_SECRET, b"session-gate/bind/v1" \\0 sub \\0 opaque).
Usage as a library:  bind_id(secret, sub, opaque) -> "t1055.VOF-ggw9loeRqrsXeG9F2A"
                     bound_opaque(secret, sub, id) -> "t1055", or None if not sub's
Usage from a shell:  ORIGIN_SECRET=... python3 bind_id.py SUB OPAQUE
"""
import base64
import hashlib
import hmac
import os
import re
import sys

_OPAQUE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ID = re.compile(r"([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{22})")


def _tag(secret: str, sub: str, opaque: str) -> bytes:
    msg = b"session-gate/bind/v1\0" + sub.encode() + b"\0" + opaque.encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).digest()[:16]


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def bind_id(secret: str, sub: str, opaque: str) -> str:
    if not _OPAQUE.fullmatch(opaque):
        raise ValueError("opaque must be 1 to 64 of [A-Za-z0-9_-]")
    return f"{opaque}.{_b64url(_tag(secret, sub, opaque))}"


def bound_opaque(secret: str, sub: str, bound: str) -> str | None:
    m = _ID.fullmatch(bound)
    if not m:
        return None
    given = base64.urlsafe_b64decode(m[2] + "==")
    if _b64url(given) != m[2]:
        return None
    return m[1] if hmac.compare_digest(given, _tag(secret, sub, m[1])) else None


if __name__ == "__main__":
    print(bind_id(os.environ["ORIGIN_SECRET"], sys.argv[1], sys.argv[2]))
