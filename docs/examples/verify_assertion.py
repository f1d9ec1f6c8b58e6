"""Verifies session-gate's X-Session-Assertion in Python (standard library only).

Usage as a library:  verify_assertion(header, secret=..., host=..., method=..., path=..., query=...)
  query: the raw query string the origin received, without "?" ("" when none)
Usage from a shell:  ORIGIN_SECRET=... python3 verify_assertion.py ASSERTION HOST METHOD PATH [QUERY]
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import time


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_assertion(header: str, *, secret: str, host: str, method: str, path: str, query: str = "", now_ms: int | None = None) -> dict:
    parts = header.strip().split(".")
    if len(parts) != 3 or parts[0] != "v1":
        raise ValueError("not of the form v1.<payload>.<tag>")
    _, payload, tag = parts
    expected = hmac.new(secret.encode(), b"session-gate/assertion/v1\0" + payload.encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(_b64url(tag), expected):
        raise ValueError("tag does not verify")
    claims = json.loads(_b64url(payload))
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if now_ms > claims["exp"]:
        raise ValueError("expired")
    if claims["aud"].lower() != host.lower():
        raise ValueError("issued for another host")
    if claims["mth"] != method:
        raise ValueError("issued for another method")
    if claims["pth"] != path:
        raise ValueError("issued for another path")
    qsh = base64.urlsafe_b64encode(hashlib.sha256(query.encode()).digest()).rstrip(b"=").decode()
    if not hmac.compare_digest(claims["qsh"], qsh):
        raise ValueError("issued for another query")
    return claims  # claims["sub"] is None for an anonymous request on a public path


if __name__ == "__main__":
    assertion, host, method, path = sys.argv[1:5]
    query = sys.argv[5] if len(sys.argv) > 5 else ""
    try:
        print(json.dumps(verify_assertion(assertion, secret=os.environ["ORIGIN_SECRET"], host=host, method=method, path=path, query=query)))
    except (ValueError, KeyError) as e:
        print(f"invalid assertion: {e}", file=sys.stderr)
        sys.exit(1)
