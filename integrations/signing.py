"""Standard Webhooks signing (https://www.standardwebhooks.com): secrets, headers and the HMAC.

Kept in our code (a dozen lines) rather than as a runtime dependency; the tests verify every
signature with the reference `standardwebhooks` library.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"


def secret_generate() -> str:
    """A new endpoint secret: "whsec_" + base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """"v1,<base64 HMAC-SHA256 of '<id>.<timestamp>.<body>'>"."""
    digest = hmac.new(_key(secret), f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(*, secrets_in_use: list[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers; several secrets (a rotation) give space-separated signatures."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(secret=secret, message_id=message_id, timestamp=timestamp, body=body)
            for secret in secrets_in_use
        ),
    }
