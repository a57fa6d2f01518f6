#!/usr/bin/env python3
"""Verify a Ferry webhook: verify.py SECRET BODY_FILE SIGNATURE_HEADER; exit 0 when it verifies."""
import hashlib
import hmac
import sys


def verify(secret: bytes, body: bytes, header: str) -> bool:
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


if __name__ == "__main__":
    secret, path, header = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(path, "rb") as f:
        sys.exit(0 if verify(secret.encode(), f.read(), header) else 1)
