#!/bin/sh
# Verify a Ferry webhook: verify.sh SECRET BODY_FILE SIGNATURE_HEADER; exit 0 when it verifies.
expected="sha256=$(openssl dgst -sha256 -hmac "$1" -r < "$2" | cut -d' ' -f1)"
[ "$expected" = "$3" ]
