"""Sending one week's digest to every active subscriber, resumably and at most once.

The subscribers come from the ``subscribers`` read model, a batch at a time
in id order (the index on status), so memory stays flat however many there
are; only a batch's addresses are ever opened, with their keys, at once.
Each batch is claimed in the send journal (:mod:`api.delivery_journal`)
before its first mail is handed over, and settled after its last:

- a mail the relay took is ``sent``; a rerun skips it;
- an address the relay refused for good (5xx) is recorded on the ledger as
  a failed delivery (repeated failures pause the subscription) and ``failed``;
- when the relay cannot take mail now (:class:`TransportError`), the run
  stops: the batch's mails never handed over are released for the next run,
  and the one in flight is left uncertain unless the relay surely did not
  take it (:class:`NotHandedOver`);
- an interrupted run (Ctrl-C, SIGTERM) lets each connection finish the mail
  in hand, then settles its batch the same way; a run killed outright
  leaves its batch uncertain, never sent twice.
"""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from uuid import UUID

from api.delivery_journal import Journal
from api.digest_mail import DigestMail, Mail
from ledger.application import Ledger
from ledger.context import Context
from ledger.mail_transport import NotHandedOver, Refused, Transport
from ledger.personal_data import is_sealed
from projections import files
from projections.readmodels.subscribers import SUBSCRIBERS

BATCH = 200
"""Subscribers claimed, opened and settled together."""
CONNECTIONS = 4
"""Relay connections used at once."""

ACTIVE_PAGE = (
    f"SELECT id, address FROM {SUBSCRIBERS.name} "
    "WHERE status = 'active' AND id > ? ORDER BY id LIMIT ?"
)


@dataclass
class Outcome:
    """What a run did, in numbers, and why it stopped early if it did."""

    sent: int = 0
    skipped: int = 0
    failed: int = 0
    uncertain: int = 0
    stopped: str = ""
    refused: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return (
            f"{self.sent} sent, {self.skipped} skipped, {self.failed} failed, "
            f"{self.uncertain} uncertain"
        )


Progress = Callable[[int], None]
"""Told how many more subscribers a batch dealt with."""


def active_count(readmodel: Path) -> int:
    """How many subscribers are active now."""
    conn = files.connect(readmodel, create=False)
    try:
        found = conn.execute(
            f"SELECT count(*) FROM {SUBSCRIBERS.name} WHERE status = 'active'"
        ).fetchone()
        return int(found[0])
    finally:
        conn.close()


class DigestSender:
    """Sends one week's :class:`DigestMail` over a few relay connections at once.

    Each batch's mails are dealt out to ``connections`` threads, one
    transport each: a relay answers every SMTP command in turn, so one
    connection spends most of its time waiting. A failure of the relay stops
    every thread before its next mail; a thread always finishes the mail it
    is handing over, so stopping (or Ctrl-C) leaves nothing in doubt but a
    mail whose connection was lost in the middle.

    Args:
        ledger: Where failed deliveries are recorded, and whose keys open
            the addresses.
        readmodel: The read-model file, caught up by the caller.
        journal: The send journal.
        transport: Opens one connection to the relay (or the outbox folder).
        digest: The week's mail.
        ctx: Who records the failed deliveries.
        resend_uncertain: Also send to subscribers an interrupted run left
            uncertain (only once their mail is known not to have gone).
        batch: Subscribers per claim.
        connections: Transports used at once.
    """

    def __init__(
        self,
        ledger: Ledger,
        readmodel: Path,
        journal: Journal,
        transport: Callable[[], Transport],
        digest: DigestMail,
        ctx: Context,
        *,
        resend_uncertain: bool = False,
        batch: int = BATCH,
        connections: int = CONNECTIONS,
    ) -> None:
        if connections < 1:
            msg = f"connections must be at least 1, not {connections}"
            raise ValueError(msg)
        self.ledger = ledger
        self.readmodel = readmodel
        self.journal = journal
        self.open_transport = transport
        self.digest = digest
        self.week = digest.week
        self.ctx = ctx
        self.resend_uncertain = resend_uncertain
        self.batch = batch
        self.connections = connections

    def run(self, progress: Progress | None = None) -> Outcome:
        """Sends to every active subscriber not mailed this week yet."""
        outcome = Outcome()
        transports = [self.open_transport() for _ in range(self.connections)]
        conn = files.connect(self.readmodel, create=False)
        try:
            with ThreadPoolExecutor(self.connections, "digest") as pool:
                after = ""
                while not outcome.stopped:
                    rows = conn.execute(ACTIVE_PAGE, (after, self.batch)).fetchall()
                    if not rows:
                        break
                    after = rows[-1][0]
                    self._send_batch(pool, transports, dict(rows), outcome)
                    if progress is not None:
                        progress(len(rows))
        finally:
            conn.close()
            for transport in transports:
                transport.close()
        return outcome

    def _send_batch(
        self,
        pool: ThreadPoolExecutor,
        transports: list[Transport],
        sealed: dict[str, str],
        outcome: Outcome,
    ) -> None:
        claim = self.journal.claim(
            self.week, list(sealed), resend_uncertain=self.resend_uncertain
        )
        outcome.skipped += claim.done
        outcome.uncertain += claim.uncertain
        ids = claim.claimed
        results: dict[str, Result] = {}
        stop = threading.Event()
        futures: list[Future[None]] = []
        try:
            opened = self.ledger.sealer.unseal_all(
                [sealed[s] for s in ids], private=True
            )
            mails = self._mails(ids, opened, results)
            count = len(transports)
            futures = [
                pool.submit(_deal, transports[n], mails[n::count], results, stop)
                for n in range(count)
            ]
            wait(futures)
        except BaseException:
            stop.set()  # interrupted: every thread ends its mail in hand, then stops
            wait(futures)
            self._settle(ids, results, outcome)
            raise
        self._settle(ids, results, outcome)

    def _mails(
        self, ids: list[str], opened: list[str], results: dict[str, Result]
    ) -> list[tuple[str, Mail]]:
        """The batch's mails; an address erased since has none (skipped)."""
        mails = []
        for subscription, address in zip(ids, opened, strict=True):
            if not _mailable(address):
                results[subscription] = (SKIPPED, "")
                continue
            try:
                mail = self.digest.mail(UUID(hex=subscription), address)
            except ValueError as error:
                results[subscription] = (FAILED, str(error))
                continue
            mails.append((subscription, mail))
        return mails

    def _settle(
        self, ids: list[str], results: dict[str, Result], outcome: Outcome
    ) -> None:
        sent, failed, released = [], [], []
        for subscription in ids:
            status, detail = results.get(subscription, (UNSENT, ""))
            if status == SENT:
                sent.append(subscription)
            elif status == REFUSED:
                self.ledger.record_delivery_failure(
                    self.ctx, UUID(hex=subscription), self.week, detail
                )
                failed.append((subscription, detail))
            elif status == FAILED:
                failed.append((subscription, detail))
            elif status == UNCERTAIN:
                outcome.uncertain += 1
                outcome.stopped = outcome.stopped or detail
            else:
                released.append(subscription)
                if status == SKIPPED:
                    outcome.skipped += 1
                elif detail:
                    outcome.stopped = outcome.stopped or detail
        self.journal.settle(self.week, sent=sent, failed=failed, released=released)
        outcome.sent += len(sent)
        outcome.failed += len(failed)


SENT, REFUSED, FAILED, UNCERTAIN, UNSENT, SKIPPED = (
    "sent",
    "refused",
    "failed",
    "uncertain",
    "unsent",
    "skipped",
)
Result = tuple[str, str]
"""What became of one subscriber's mail in a batch, and the relay's words."""


def _deal(
    transport: Transport,
    mails: list[tuple[str, Mail]],
    results: dict[str, Result],
    stop: threading.Event,
) -> None:
    """Hands ``mails`` over in turn until done or told to stop (one thread)."""
    for subscription, mail in mails:
        if stop.is_set():
            return
        try:
            _hand_over(transport, mail)
        except Refused as refused:
            results[subscription] = (REFUSED, refused.detail)
        except NotHandedOver as error:
            results[subscription] = (UNSENT, str(error) or type(error).__name__)
            stop.set()
        except Exception as error:  # a lost connection, or worse: in doubt
            results[subscription] = (UNCERTAIN, str(error) or type(error).__name__)
            stop.set()
        else:
            results[subscription] = (SENT, "")


def _mailable(address: object) -> bool:
    """Whether an opened address is one (not erased, unreadable or still sealed)."""
    return (
        isinstance(address, str)
        and "@" in address
        and not is_sealed(address)
        and not address.startswith("[")
    )


def _hand_over(transport: Transport, mail: Mail) -> None:
    """Hands ``mail`` over; an address beyond ASCII goes as an SMTPUTF8 message."""
    if mail.recipient.isascii():
        transport.send_bytes(mail.sender, mail.recipient, mail.data, mail.message_id)
        return
    message = email.message_from_bytes(mail.data, policy=email.policy.SMTPUTF8)
    assert isinstance(message, EmailMessage)
    transport.send(message)
