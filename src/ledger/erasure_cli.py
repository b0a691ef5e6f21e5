"""``ledger erase PERSON --reason …``: crypto-shredding a person's data on the box.

An operator answering a request to be forgotten names the person as the
address they subscribed with, ``reviewer:HANDLE`` or ``subscriber:ID``. The
command is one call of :meth:`ledger.application.Ledger.erase`, the one the
admin route calls: it destroys the person's key, then appends
``Erasure.Recorded`` naming the person's pseudonym (never their data), as
``operator:NAME`` (and, for a subscriber, ends their subscription). It
prints a line per event appended: its type, version and position.

Every refusal (a text that names no person, a person the ledger holds no
data of, one erased already, a missing reason) is one line on stderr and
exit status 2, with nothing appended and no key touched.
"""

from __future__ import annotations

from uuid import uuid4

import click
import msgspec

from ledger import errors, log
from ledger.cli_support import opened_ledger
from ledger.context import Context
from ledger.editorial_cli import acting


class Refused(click.ClickException):
    """A refused erasure: one line on stderr, exit status 2."""

    exit_code = 2


@click.command("erase")
@click.argument("person")
@click.option(
    "--reason",
    default="",
    help="Why, kept with the event (required; say nothing about the person).",
)
@acting
def erase_command(person: str, reason: str, actor: str, as_json: bool) -> None:
    """Erase PERSON's personal data by destroying their key, then record it.

    Their name, rationales, reasons or address then read as erased in every
    read model, page, feed, export and backup made afterwards; a rebuild
    cannot bring them back, and the rest of the log is untouched. PERSON is
    the address a subscriber subscribed with, reviewer:HANDLE or
    subscriber:ID. Cannot be undone.
    """
    context = Context(actor=actor, request_id=str(uuid4()))
    try:
        with opened_ledger() as ledger:
            named = ledger.person_named(person)
            head = ledger.head_position()
            ledger.erase(context, named, reason)
            appended = log.of_request(
                ledger.recorder, context.request_id, actor=actor, after=head
            )
    except (errors.LedgerError, ValueError) as error:
        raise Refused(str(error)) from error
    if as_json:
        answer = {
            "person": named,
            "actor": actor,
            "request_id": context.request_id,
            "events": [
                {
                    "id": str(event.aggregate_id),
                    "version": event.version,
                    "position": event.position,
                    "type": event.type,
                }
                for event in appended
            ],
        }
        click.echo(msgspec.json.encode(answer).decode())
        return
    for event in appended:
        click.echo(
            f"erased {named}: {event.type} version {event.version} at position "
            f"{event.position} (id {event.aggregate_id}, by {actor})"
        )
