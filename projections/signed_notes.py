"""C2SP signed notes with an Ed25519 key: signing, the verifier key, verifying.

The ledger's checkpoints are signed notes (c2sp.org/signed-note), the
format of Go's checksum database and of every tlog witness, so that any of
their verifiers can check ours. The key is the Ed25519 key of
``cryptography``; its ID, and the verifier key's text form
(``name+id+base64(0x01 || public key)``), follow the spec and Go's
``golang.org/x/mod/sumdb/note``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

ED25519 = b"\x01"
"""The signature type byte of Ed25519 in signed notes."""
DASH = "\N{EM DASH} "
MAX_NOTE = 16 * 1024
"""The longest note read: one checkpoint with a few signatures is far below."""


class NoteError(ValueError):
    """A note that is malformed, or not signed by the key it is checked with."""


def key_id(name: str, public: bytes) -> bytes:
    """The 4-byte key ID: ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``."""
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public).digest()[:4]


def _check_name(name: str) -> str:
    if not name or any(c.isspace() or c == "+" for c in name):
        msg = f"a key name must be non-empty, without spaces or '+': {name!r}"
        raise NoteError(msg)
    return name


@dataclass(frozen=True)
class VerifierKey:
    """A note-verifier key: a name and an Ed25519 public key."""

    name: str
    public: bytes

    @property
    def id(self) -> bytes:
        """The key ID signatures carry."""
        return key_id(self.name, self.public)

    def text(self) -> str:
        """The key's text form, ``name+hex id+base64(0x01 || public key)``."""
        encoded = base64.b64encode(ED25519 + self.public).decode()
        return f"{self.name}+{self.id.hex()}+{encoded}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Reads a verifier key's text form, checking its ID.

        Raises:
            NoteError: If the text is not an Ed25519 verifier key.
        """
        parts = text.strip().split("+", 2)  # base64 may hold '+' itself
        if len(parts) != 3:
            msg = "a verifier key is name+id+key"
            raise NoteError(msg)
        name, hex_id, encoded = parts
        try:
            raw = base64.b64decode(encoded, validate=True)
            claimed = bytes.fromhex(hex_id)
        except ValueError as error:
            msg = f"a verifier key's id or key is not encoded right: {error}"
            raise NoteError(msg) from error
        if len(raw) != 33 or raw[:1] != ED25519:
            msg = "not an Ed25519 verifier key"
            raise NoteError(msg)
        key = cls(_check_name(name), raw[1:])
        if claimed != key.id:
            msg = "the verifier key's id does not match its name and key"
            raise NoteError(msg)
        return key

    def verify(self, note: str) -> str:
        """The note's text, if this key signed it.

        Signatures by other keys are ignored, as the spec asks; at least one
        must be this key's, and every one of its must verify.

        Raises:
            NoteError: If the note is malformed or not signed by this key.
        """
        text, signatures = split_note(note)
        public = Ed25519PublicKey.from_public_bytes(self.public)
        found = False
        for name, signature in signatures:
            if name != self.name or signature[:4] != self.id:
                continue
            try:
                public.verify(signature[4:], text.encode())
            except InvalidSignature as error:
                msg = f"the signature of {name} does not verify"
                raise NoteError(msg) from error
            found = True
        if not found:
            msg = f"the note has no signature of {self.name}"
            raise NoteError(msg)
        return text


def split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """A note's text and its signatures, each a key name and decoded bytes.

    Raises:
        NoteError: If the note is not in the signed-note format.
    """
    if len(note) > MAX_NOTE:
        msg = f"a note is at most {MAX_NOTE} bytes"
        raise NoteError(msg)
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        msg = "a note holds no control characters but newlines"
        raise NoteError(msg)
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        msg = "a note is text, a blank line and signature lines"
        raise NoteError(msg)
    text, lines = note[: cut + 1], note[cut + 2 :].splitlines()
    signatures = []
    for line in lines:
        if not line.startswith(DASH) or line.count(" ") != 2:
            msg = f"not a signature line: {line[:80]!r}"
            raise NoteError(msg)
        name, encoded = line[len(DASH) :].split(" ")
        try:
            signature = base64.b64decode(encoded, validate=True)
        except ValueError as error:
            msg = f"a signature is not base64: {encoded[:80]!r}"
            raise NoteError(msg) from error
        if len(signature) < 5:
            msg = "a signature is a key ID and signature bytes"
            raise NoteError(msg)
        signatures.append((_check_name(name), signature))
    if not signatures:
        msg = "a signed note has at least one signature"
        raise NoteError(msg)
    return text, signatures


class SignerKey:
    """An Ed25519 signing key with its name: what signs the ledger's checkpoints.

    Args:
        name: The key name, which the ledger sets to the log's origin.
        private: The key.
    """

    def __init__(self, name: str, private: Ed25519PrivateKey) -> None:
        self.name = _check_name(name)
        self.private = private
        public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = VerifierKey(name, public)

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> SignerKey:
        """The key of a 32-byte Ed25519 seed (a fixed key, in tests)."""
        return cls(name, Ed25519PrivateKey.from_private_bytes(seed))

    def sign(self, text: str) -> str:
        """``text`` as a signed note with this key's one signature."""
        if not text.endswith("\n") or "\n\n" in text:
            msg = "a note's text ends in a newline and has no blank line here"
            raise NoteError(msg)
        signature = self.verifier.id + self.private.sign(text.encode())
        encoded = base64.b64encode(signature).decode()
        return f"{text}\n{DASH}{self.name} {encoded}\n"


def load_or_create(path: Path, name: str) -> SignerKey:
    """The signing key kept at ``path`` (a 32-byte seed), made on first use (0600).

    A new key is written whole to a file of its own, then linked into
    place, which fails if another process got there first: workers starting
    together agree on one key and never read half of one.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        seed = Ed25519PrivateKey.generate().private_bytes(
            Encoding.Raw, PrivateFormat.Raw, NoEncryption()
        )
        fd, made_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        made = Path(made_name)  # mkstemp makes it 0600
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(seed)
                out.flush()
                os.fsync(out.fileno())
            os.link(made, path)
        except FileExistsError:
            pass
        finally:
            made.unlink(missing_ok=True)
    seed = path.read_bytes()
    if len(seed) != 32:
        msg = f"the log key {path} is not a 32-byte Ed25519 seed"
        raise ValueError(msg)
    return SignerKey.from_seed(name, seed)
