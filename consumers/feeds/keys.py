"""API keys: how they are made and how they are hashed before anything stores or compares them.

A key is 32 bytes from the operating system's CSPRNG (`secrets.token_urlsafe`), shown once to
the operator who creates it; the feed store keeps only its sha256. A fast hash is enough here,
unlike for passwords: slow, salted hashes (scrypt, argon2) exist to make guessing *low-entropy*
secrets expensive, while guessing a 256-bit random key is out of reach at any hash speed. An
unsalted hash also lets the store find a key's owner by an indexed lookup of the hash, and what a
lookup's timing could reveal is about the hash, which says nothing usable about the key.

A key is named, to list or revoke it, by its id: the first `KEY_ID_LENGTH` hex digits of its hash
(`key_id`). The id says nothing usable about the key either, so it may be printed and logged.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Final

KEY_BYTES: Final = 32
KEY_ID_LENGTH: Final = 12
_HASH: Final = re.compile(r"[0-9a-f]{64}")
_ID: Final = re.compile(rf"[0-9a-f]{{{KEY_ID_LENGTH}}}")


def new_key() -> str:
    """A fresh random API key (43 URL-safe characters)."""
    return secrets.token_urlsafe(KEY_BYTES)


def hash_key(key: str) -> str:
    """The hex sha256 of the key: the only form of it the feed store keeps."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def is_key_hash(text: str) -> bool:
    """Whether `text` has the form of `hash_key`'s output (what `set_key` accepts)."""
    return _HASH.fullmatch(text) is not None


def key_id(key_hash: str) -> str:
    """The id that names the key whose hash is `key_hash` (to list or revoke it)."""
    return key_hash[:KEY_ID_LENGTH]


def is_key_id(text: str) -> bool:
    """Whether `text` has the form of `key_id`'s output."""
    return _ID.fullmatch(text) is not None
