"""Signs an origin's handshake for session-gate (HANDSHAKE_AUTH=on) in Python
(standard library only): the value of X-Session-Handshake for these handshake
headers and the request's X-Session-Nonce.

Usage as a library:  headers["X-Session-Handshake"] = sign_handshake(headers, secret=..., nonce=...)
Usage from a shell:  ORIGIN_SECRET=... python3 sign_handshake.py NONCE 'x-session-login:alice' ...
"""
import base64
import hashlib
import hmac
import os
import re
import sys
import unicodedata

ORDER = ["x-session-login", "x-session-roles", "x-session-logout", "x-session-rotate", "x-session-revoke-user"]


def encode_sub(sub: str) -> str:
    """A user id in its one header spelling: UTF-8, visible ASCII but % , ; " \\ literal, the rest %XX."""
    out = []
    for b in unicodedata.normalize("NFC", sub).encode("utf-8"):
        literal = 0x21 <= b <= 0x7E and chr(b) not in '%,;"\\'
        out.append(chr(b) if literal else f"%{b:02X}")
    return "".join(out)


def sign_handshake(headers, *, secret: str, nonce: str) -> str:
    """`headers`: a dict or (name, value) pairs; names in any case; other headers are ignored."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{22}", nonce or ""):
        raise ValueError("the request carried no valid X-Session-Nonce")
    given = {}
    for name, value in headers.items() if isinstance(headers, dict) else headers:
        lower = name.lower()
        if lower not in ORDER:
            continue
        if lower in given:
            raise ValueError(f"{lower} appears more than once")
        if re.search(r"[\r\n\0]", value):
            raise ValueError(f"{lower} holds a line break or NUL")
        given[lower] = value
    lines = "\0".join(f"{n}:{given[n]}" for n in ORDER if n in given)
    message = f"session-gate/handshake/v1\0{nonce}\0{lines}".encode()
    tag = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(tag).rstrip(b"=").decode()


if __name__ == "__main__":
    nonce, *lines = sys.argv[1:]
    try:
        pairs = [tuple(line.split(":", 1)) for line in lines]
        print(sign_handshake(pairs, secret=os.environ["ORIGIN_SECRET"], nonce=nonce))
    except (ValueError, KeyError) as e:
        print(f"cannot sign: {e}", file=sys.stderr)
        sys.exit(1)
