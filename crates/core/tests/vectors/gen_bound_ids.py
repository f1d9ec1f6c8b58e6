#!/usr/bin/env python3
"""Bound-id vectors from an implementation independent of the core: Python's
hmac and hashlib, straight from the contract (docs/origin.md, "Binding
conversation ids to users"):

    tag = base64url_nopad(HMAC-SHA256(ORIGIN_SECRET utf-8,
                          b"session-gate/bind/v1" 0x00 sub 0x00 opaque)[:16])

Regenerate with
    python3 crates/core/tests/vectors/gen_bound_ids.py > crates/core/tests/vectors/bound_ids.json
"""
import base64
import hashlib
import hmac
import json

CASES = [
    ("0123456789abcdef0123456789abcdef", "alice", "t1055"),
    ("0123456789abcdef0123456789abcdef", "bob", "t1055"),
    ("0123456789abcdef0123456789abcdef", "alice", "1056"),
    ("a-longer-origin-secret-with-ünïcödé-0123456789", "alice", "thread_42-x"),
    ("0123456789abcdef0123456789abcdef", "ali\u00e7e@example.com", "x" * 64),
    ("0123456789abcdef0123456789abcdef", "user with spaces", "A"),
]


def tag(secret: str, sub: str, opaque: str) -> str:
    msg = b"session-gate/bind/v1\x00" + sub.encode() + b"\x00" + opaque.encode()
    mac = hmac.new(secret.encode(), msg, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


print(json.dumps({
    "description": "bound ids <opaque>.<tag>, computed by gen_bound_ids.py (Python hmac)",
    "cases": [
        {"secret": s, "sub": u, "opaque": o, "id": f"{o}.{tag(s, u, o)}"}
        for s, u, o in CASES
    ],
}, indent=2, ensure_ascii=False))
