"""Personal data in an immutable log: sealed per person, erased by losing the key.

Every event field that holds a person's data (a reviewer's name, their
rationales and reasons, a subscriber's address) is stored *sealed*: AES-GCM
under a key of that person's own, as the text
``sealed:v1:<person>:<nonce and ciphertext, base64url>``. The log keeps only
ciphertext, so read models, exports and backups copied from it do too; the
plaintext is recovered where it is shown (:meth:`Sealer.unseal`). Erasing a
person destroys their key (:meth:`Keyring.destroy`): every copy of their
data, in every store and file made from the log, becomes unreadable at
once, and nothing in the log itself changes, so the tamper-evident chain
over the stored bytes still verifies. This is crypto-shredding.

A person is named by kind and pseudonym, ``reviewer:<handle>`` or
``subscriber:<id>``. Reviewers' data is public once unsealed; a subscriber's
address is private, so the public unseal shows it as :data:`PRIVATE`.

The keys live in their own table: ``keys.sqlite`` in ``LEDGER_HOME`` beside
the embedded store (:mod:`ledger.sqlite_keyring`), or ``ledger_person_keys``
beside a PostgreSQL log (:mod:`ledger.postgres_keyring`). A destroyed key's
row stays as a tombstone (no key, and whether its erasure was recorded), so
that an interrupted erasure can be finished and a repeated one refused.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import OperationalError

from ledger.settings import Settings

PREFIX = "sealed:v1:"
ERASED = "[erased]"
"""What sealed data reads as once its person's key is destroyed."""
PRIVATE = "[private]"
"""What a private person's sealed data reads as in public."""
UNREADABLE = "[unreadable]"
"""What a sealed text reads as when it does not open under its key."""
UNAVAILABLE = "[unavailable]"
"""What sealed data reads as while the keys are out of reach (the database
that holds them is down): reads keep serving, without it."""
"""What a sealed text reads as when it does not open under its key."""
PUBLIC_KINDS = frozenset({"reviewer"})
"""Kinds of person whose data is public once unsealed."""
KINDS = frozenset({"reviewer", "subscriber"})
KEY_BYTES = 32
NONCE_BYTES = 12
KEY_TAG_BYTES = 4
"""A nonce starts with this much of its key's hash, the rest random: text
sealed under a key destroyed since reads as erased, not as unreadable, even
once the person has a new key."""


def reviewer_person(handle: str) -> str:
    """The person a reviewer's data is sealed for."""
    return f"reviewer:{handle}"


def subscriber_person(subscription_id: str) -> str:
    """The person a subscriber's data is sealed for."""
    return f"subscriber:{subscription_id}"


def is_sealed(value: object) -> bool:
    """Whether ``value`` is sealed text."""
    return isinstance(value, str) and value.startswith(PREFIX)


def person_of(sealed: str) -> str:
    """The person ``sealed`` text belongs to."""
    return sealed[len(PREFIX) :].rpartition(":")[0]


class KeyringUnavailable(OperationalError):
    """The keys cannot be read now: their database is out of reach."""


class KeyringState(Protocol):
    """Where the keys are kept: one key per person, destroyed on erasure."""

    def key(self, person: str, *, create: bool) -> bytes | None:
        """The person's key; with ``create``, a new one if they have none."""
        ...

    def keys(self, persons: Iterable[str]) -> dict[str, bytes]:
        """The live keys of ``persons`` (absent: none, or destroyed).

        Raises:
            KeyringUnavailable: The keys' database is out of reach.
        """
        ...

    def erased(self, person: str) -> bool:
        """Whether the person's key was destroyed and no new one made since."""
        ...

    def destroy(self, person: str) -> str:
        """Destroys the person's key.

        Returns:
            ``"destroyed"`` if a key was destroyed now, ``"unrecorded"`` if it
            was destroyed earlier but the erasure never recorded, ``"recorded"``
            if the erasure is recorded already, ``"unknown"`` if the person
            never had a key.
        """
        ...

    def mark_recorded(self, person: str) -> None:
        """Notes that the person's erasure is recorded in the log."""
        ...

    def live_keys(self) -> list[tuple[str, bytes, str]]:
        """Every live key as ``(person, key, created_at)``, by person."""
        ...

    def adopt(self, person: str, key: bytes, created_at: str) -> str:
        """Keeps ``key`` as the person's, moved here from another keyring.

        Returns:
            ``"adopted"`` if it is kept now, ``"present"`` if the person has
            this key already, ``"conflict"`` if they have another one (kept),
            ``"erased"`` if their key here was destroyed (it stays so).
        """
        ...

    def close(self) -> None: ...


class Sealer:
    """Seals and unseals personal data with the keys of a :class:`KeyringState`."""

    def __init__(self, keyring: KeyringState) -> None:
        self.keyring = keyring

    def seal(self, person: str, text: str) -> str:
        """``text`` sealed under the person's key (made if they have none)."""
        if is_sealed(text):
            return text
        key = self.keyring.key(person, create=True)
        assert key is not None, "create=True always gives a key"
        nonce = key_tag(key) + os.urandom(NONCE_BYTES - KEY_TAG_BYTES)
        data = AESGCM(key).encrypt(nonce, text.encode(), person.encode())
        token = base64.urlsafe_b64encode(nonce + data).decode().rstrip("=")
        return f"{PREFIX}{person}:{token}"

    def unseal(self, value: Any, *, private: bool = False) -> Any:
        """``value`` in the clear; values that are not sealed come back as they are.

        Args:
            value: Any value; only sealed text is opened.
            private: Also open private persons' data (a subscriber's address,
                for the mail sent to it); public reads leave this off.
        """
        if not is_sealed(value):
            return value
        return self.unseal_all([value], private=private)[0]

    def unseal_all(
        self, values: Iterable[Any], *, private: bool = False, strict: bool = False
    ) -> list[Any]:
        """Each of ``values`` in the clear, with one key lookup for all of them.

        Args:
            values: Any values; only sealed text is opened.
            private: Also open private persons' data.
            strict: Raise :class:`KeyringUnavailable` when the keys are out of
                reach, as loading an aggregate to change it must; a read
                instead shows the sealed text as :data:`UNAVAILABLE` and
                keeps serving.
        """
        values = list(values)
        wanted = {
            person_of(value)
            for value in values
            if is_sealed(value) and (private or _public(person_of(value)))
        }
        try:
            keys = self.keyring.keys(wanted) if wanted else {}
        except KeyringUnavailable:
            if strict:
                raise
            return [UNAVAILABLE if is_sealed(value) else value for value in values]
        return [_open(value, keys, private) for value in values]

    def unseal_rows(
        self, rows: Iterable[Mapping[str, Any]], *, private: bool = False
    ) -> list[dict[str, Any]]:
        """Rows with every sealed value in the clear (one key lookup for all)."""
        rows = [dict(row) for row in rows]
        flat = [value for row in rows for value in row.values()]
        opened = iter(self.unseal_all(flat, private=private))
        return [{name: next(opened) for name in row} for row in rows]

    def unseal_tree(self, value: Any, *, private: bool = False) -> Any:
        """``value`` (JSON-like: dicts, lists, text) with sealed text opened."""
        found: list[str] = []
        _collect(value, found)
        if not found:
            return value
        opened = dict(zip(found, self.unseal_all(found, private=private), strict=True))
        return _replace(value, opened)


def key_tag(key: bytes) -> bytes:
    """What the nonces of text sealed under ``key`` start with."""
    return hashlib.sha256(key).digest()[:KEY_TAG_BYTES]


def _public(person: str) -> bool:
    return person.partition(":")[0] in PUBLIC_KINDS


def _open(value: Any, keys: Mapping[str, bytes], private: bool) -> Any:
    if not is_sealed(value):
        return value
    person, _, token = value[len(PREFIX) :].rpartition(":")
    if not private and not _public(person):
        return PRIVATE
    key = keys.get(person)
    if key is None:
        return ERASED
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        if raw[:KEY_TAG_BYTES] != key_tag(key):
            return ERASED  # sealed under a key of theirs destroyed since
        opened = AESGCM(key).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], person.encode()
        )
    except (InvalidTag, ValueError):
        return UNREADABLE
    return opened.decode()


def _collect(value: Any, found: list[str]) -> None:
    if is_sealed(value):
        found.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, found)


def _replace(value: Any, opened: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return opened.get(value, value)
    if isinstance(value, dict):
        return {name: _replace(item, opened) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [_replace(item, opened) for item in value]
    return value


def now_text() -> str:
    """Now, as the key tables record times."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def destroy_outcome(key: bytes | None, recorded: int | None) -> str:
    """What :meth:`KeyringState.destroy` answers for a row as it was found."""
    if recorded is None:
        return "unknown"
    if key is not None:
        return "destroyed"
    return "recorded" if recorded else "unrecorded"


def adopt_outcome(row: Any, key: bytes) -> str:
    """What :meth:`KeyringState.adopt` answers for the row it found (or None)."""
    if row is None:
        return "adopted"
    if row[0] is None:
        return "erased"
    return "present" if bytes(row[0]) == key else "conflict"


def open_keyring(
    settings: Settings, env: Mapping[str, str] | None = None
) -> KeyringState:
    """The keyring of ``settings``: where every node of the ledger finds the keys.

    Beside the embedded store, ``keys.sqlite`` in the home; with a PostgreSQL
    store, the table ``ledger_person_keys`` beside the log.

    Args:
        settings: The ledger's settings.
        env: What the ledger was given besides the process environment (the
            PostgreSQL schema, in tests).
    """
    if settings.event_store is None:
        from ledger.sqlite_keyring import SqliteKeyring

        return SqliteKeyring(settings.keys_path)
    # Imported here so that the embedded store never imports psycopg.
    from ledger.postgres_keyring import PostgresKeyring
    from ledger.postgres_tables import Place

    return PostgresKeyring(Place.of(settings, env))
