"""API tokens stored hashed: salted scrypt, compared in constant time.

A token is a random secret given to a person or a program; the server keeps only
``scrypt$<salt hex>$<hash hex>``, so a leaked settings file does not leak the tokens.
"""

import hashlib
import hmac
import re
import secrets

SCRYPT_N = 2**14
"""scrypt cost (CPU and memory: 128 * N * r bytes = 16 MiB); about 30 ms per hash."""
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
HASH_PATTERN = re.compile(rf"^scrypt\$[0-9a-f]{{{2 * SALT_BYTES}}}\$[0-9a-f]{{{2 * HASH_BYTES}}}$")
"""What a stored token hash looks like (anything else is refused, plain tokens included)."""
TOKEN_BYTES = 32


def _scrypt(token: str, salt: bytes) -> bytes:
    return hashlib.scrypt(
        token.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=HASH_BYTES
    )


def hash_token(token: str) -> str:
    """The stored form of ``token``: ``scrypt$<salt hex>$<hash hex>`` with a fresh salt."""
    if not token:
        raise ValueError("an empty token cannot be hashed")
    salt = secrets.token_bytes(SALT_BYTES)
    return f"scrypt${salt.hex()}${_scrypt(token, salt).hex()}"


def verify_token(token: str, stored: str) -> bool:
    """Whether ``token`` is the one ``stored`` was made from (constant-time comparison)."""
    if not HASH_PATTERN.match(stored):
        raise ValueError("not a token hash: expected 'scrypt$<salt hex>$<hash hex>'")
    _, salt, expected = stored.split("$")
    return hmac.compare_digest(_scrypt(token, bytes.fromhex(salt)), bytes.fromhex(expected))


def new_token() -> str:
    """A fresh random token (URL-safe text, 256 bits)."""
    return secrets.token_urlsafe(TOKEN_BYTES)
