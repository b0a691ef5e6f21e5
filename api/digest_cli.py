"""``ledger digest [--week W] [--send]`` and ``ledger digest bounce``.

Without ``--send`` the command prints the week's digest as its mails' text
says it. With ``--send`` it mails it to every active subscriber through
``LEDGER_SMTP_URL`` (or into ``LEDGER_HOME/outbox`` without a relay),
resumably and at most once per subscriber and week (:mod:`api.digest_sender`).
``bounce`` records a bounce that came back after the mail was handed over.

The journal that makes sending resumable is kept in the node's home: send a
week's digest from one node.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from uuid import UUID

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from api.config import ApiSettings
from api.controllers.digests import begun
from api.delivery_journal import Journal, journal_path
from api.digest_mail import UNSUBSCRIBE, DigestMail
from api.digest_sender import CONNECTIONS, DigestSender, Outcome, active_count
from api.digest_sender import Progress as Advance
from api.subscriber_links import SubscriberLinks
from api.web.digest_render import render_html, render_text, subject
from ledger.application import Ledger
from ledger.cli_support import clear_errors
from ledger.context import Context
from ledger.editorial_cli import actor_option
from ledger.weeks import Week
from projections import files
from projections.digest_queries import Digest
from projections.projector import Projector
from projections.queries import ReadModel

err = Console(stderr=True)


def _week(text: str | None) -> Week:
    return begun(text) if text else Week.last_complete()


def caught_up_digest(ledger: Ledger, settings: ApiSettings, week: Week) -> Digest:
    """The week's digest from the read models, caught up with the log first."""
    path = files.readmodel_path(settings.ledger)
    projector = Projector(ledger, path)
    try:
        projector.catch_up()
    finally:
        projector.close()
    model = ReadModel(path, ledger.sealer)
    try:
        return model.digest(week)
    finally:
        model.close()


@click.group("digest", invoke_without_command=True)
@click.option(
    "--week",
    metavar="YYYY-Www",
    help="The ISO week (default: the last complete one).",
)
@click.option("--send", is_flag=True, help="Mail it to every active subscriber.")
@click.option(
    "--resend-uncertain",
    is_flag=True,
    help="Also send to subscribers an interrupted --send left uncertain: only "
    "once the relay's logs show their mail did not go.",
)
@click.option(
    "--connections",
    type=click.IntRange(1, 16),
    default=CONNECTIONS,
    show_default=True,
    help="Relay connections used at once.",
)
@actor_option
@click.pass_context
def digest_group(
    ctx: click.Context,
    week: str | None,
    send: bool,
    resend_uncertain: bool,
    connections: int,
    actor: str,
) -> None:
    """Print a week's digest, or with --send mail it to every subscriber.

    Sending is resumable: run it again after an interruption and it mails
    only those not mailed yet, never anyone twice for one week. Mails go to
    LEDGER_SMTP_URL, or to LEDGER_HOME/outbox without a relay.
    """
    if ctx.invoked_subcommand is not None:
        return
    if resend_uncertain and not send:
        raise click.UsageError("--resend-uncertain goes with --send")
    settings = ApiSettings.from_env()
    with clear_errors():
        chosen = _week(week)
        ledger = Ledger(settings.ledger)
        try:
            found = caught_up_digest(ledger, settings, chosen)
            if not send:
                click.echo(render_text(found, settings.site_url), nl=False)
                return
            if not found.complete:
                err.print(
                    f"week {chosen.label} is not over: sending what it has so far"
                )
            outcome = send_digest(
                ledger, settings, found, actor, resend_uncertain, connections
            )
        finally:
            ledger.close()
    click.echo(f"digest {chosen.label}: {outcome.summary}")
    if outcome.uncertain:
        err.print(
            f"{outcome.uncertain} mail(s) may or may not have gone when a run was "
            "interrupted; they are not sent again unless --resend-uncertain is given"
        )
    if outcome.stopped:
        raise click.ClickException(
            f"stopped: {outcome.stopped}; run it again to send the rest"
        )


def digest_mail(settings: ApiSettings, digest: Digest) -> DigestMail:
    """The week's mail, rendered once for every subscriber."""
    site = settings.site_url
    return DigestMail(
        week=digest.week,
        subject=subject(digest),
        sender=settings.sender,
        text=render_text(digest, site, UNSUBSCRIBE),
        html=render_html(digest, site, UNSUBSCRIBE),
        links=SubscriberLinks(settings.ledger.server_secret(), site),
    )


def send_digest(
    ledger: Ledger,
    settings: ApiSettings,
    digest: Digest,
    actor: str,
    resend_uncertain: bool = False,
    connections: int = CONNECTIONS,
) -> Outcome:
    """Mails ``digest`` to every active subscriber not mailed it yet.

    Ctrl-C and SIGTERM stop it with the batch in hand settled; exits 130.
    """
    mail = digest_mail(settings, digest)
    path = files.readmodel_path(settings.ledger)
    journal = Journal(journal_path(settings.ledger.home))
    context = Context(actor=actor, request_id=f"digest-{digest.week}")
    run = DigestSender(
        ledger,
        path,
        journal,
        lambda: settings.mail.open_transport(settings.ledger.home),
        mail,
        context,
        resend_uncertain=resend_uncertain,
        connections=connections,
    )
    try:
        with _terminated_as_interrupt(), _bar(active_count(path)) as advance:
            return run.run(advance)
    except KeyboardInterrupt:
        err.print("interrupted: the batch in hand was settled; run it again")
        sys.exit(130)
    finally:
        journal.close()


@contextmanager
def _terminated_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the run as Ctrl-C does: its batch settled first."""

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _bar(total: int) -> Iterator[Advance]:
    """A progress bar of subscribers dealt with, on a terminal only."""
    if not err.is_terminal:
        yield lambda _count: None
        return
    columns = (
        TextColumn("[bold]digest"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err) as bar:
        task = bar.add_task("digest", total=total or None)
        yield lambda count: bar.advance(task, count)


@digest_group.command("bounce")
@click.argument("subscriber")
@click.option("--week", metavar="YYYY-Www", required=True, help="The digest's week.")
@click.option("--detail", required=True, help="What the bounce said.")
@actor_option
def bounce_command(subscriber: str, week: str, detail: str, actor: str) -> None:
    """Record that a digest mailed to SUBSCRIBER bounced.

    SUBSCRIBER is the address or the subscription's id. Failed deliveries
    add up: after three the subscription is paused.
    """
    settings = ApiSettings.from_env()
    with clear_errors():
        label = Week.parse(week).label
        ledger = Ledger(settings.ledger)
        try:
            subscription_id = _subscription(ledger, subscriber)
            context = Context(actor=actor, request_id=f"bounce-{label}")
            ledger.record_delivery_failure(context, subscription_id, label, detail)
            found = ledger.subscription(subscription_id)
        finally:
            ledger.close()
    click.echo(
        f"recorded a failed delivery of {label} to subscription {subscription_id}: "
        f"{found['failures']} failure(s), {found['status']}"
    )


def _subscription(ledger: Ledger, subscriber: str) -> UUID:
    if "@" in subscriber:
        return ledger.subscription_id(subscriber)
    try:
        return UUID(subscriber.removeprefix("subscriber:"))
    except ValueError:
        msg = f"{subscriber!r} is neither an address nor a subscription id"
        raise click.BadParameter(msg, param_hint="SUBSCRIBER") from None
