"""The audit key: one secret outside the database, and the two keys made from it.

The secret comes from CUSTODY_AUDIT_KEY_FILE (a file only the tracker's user can read, not in
the database's folder) or CUSTODY_AUDIT_KEY (from the environment, e.g. a secret manager); it is
never derived from the session secret nor stored in the database. From it come the MAC key
every audit entry is authenticated with, and the Ed25519 key pair that signs checkpoints. The
public key is all an inspector needs to check a checkpoint or an inclusion proof.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import has_app_context

from custody.config import AUDIT_KEY_MISSING, audit_secret, database_folder, settings
from custody.domain.audit_chain import MAC_KEY_LABEL, SIGNING_KEY_LABEL, derive_key


@dataclass(frozen=True)
class AuditKeys:
    mac: bytes
    signing: Ed25519PrivateKey
    public: bytes

    @property
    def key_id(self) -> str:
        return public_key_id(self.public)

    def sign(self, message: bytes) -> bytes:
        return self.signing.sign(message)


@lru_cache(maxsize=8)
def keys_from_secret(secret: bytes) -> AuditKeys:
    signing = Ed25519PrivateKey.from_private_bytes(derive_key(secret, SIGNING_KEY_LABEL))
    public = signing.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return AuditKeys(derive_key(secret, MAC_KEY_LABEL), signing, public)


def audit_keys() -> AuditKeys | None:
    """This installation's keys, or None when no audit key is configured (or no app)."""
    if not has_app_context():
        return None
    secret = audit_secret(settings())
    return keys_from_secret(secret) if secret is not None else None


def required_keys() -> AuditKeys:
    keys = audit_keys()
    if keys is None:
        raise AuditKeyMissing(AUDIT_KEY_MISSING)
    return keys


class AuditKeyMissing(RuntimeError):
    """A command that signs or checks with the audit key, and no key is configured."""


def public_key_id(public: bytes) -> str:
    """A short name for a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public).hexdigest()[:16]


def signature_holds(public: bytes, message: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def public_key_pem(public: bytes) -> str:
    key = Ed25519PublicKey.from_public_bytes(public)
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def parse_public_key(text: str) -> bytes:
    """A public key as `custody audit public-key` prints it: 64 hex digits, or PEM."""
    text = text.strip()
    if "BEGIN PUBLIC KEY" in text:
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        key = load_pem_public_key(text.encode("ascii"))
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the PEM key is not an Ed25519 public key")
        return key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ValueError("a public key is 64 hexadecimal digits (or a PEM block)")
    return raw


def new_secret() -> str:
    return secrets.token_hex(32)


def write_key_file(path: Path, database_url: str | None = None) -> None:
    """Make a key file: created, never overwritten, readable by its owner alone (0600), in a
    folder made 0700 if it has to be made. Refuses the database's folder."""
    path = path.expanduser().absolute()
    folder = database_folder(database_url) if database_url else None
    if folder is not None and path.resolve().is_relative_to(folder):
        raise ValueError(
            f"{path} is in the database's folder ({folder}): a copy of the database would "
            "carry its key; choose a path elsewhere"
        )
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(new_secret() + "\n")
