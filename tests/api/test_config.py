"""Settings from the environment: every variable, and one message for a bad value.

Both packages read their ``LEDGER_*`` variables through one helper, so a bad
value of any of them fails the same way, naming the variable, what it takes
and what it got, and ``ledger serve`` says so in one line, without a
traceback, before it starts anything.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.config import ApiSettings
from api.serve import serve
from ledger.mail_transport import MailSettings
from ledger.settings import Settings
from projections.checkpoints import ChainSettings
from projections.following import FollowSettings
from tests.api.helpers import LEDGER

EVERY_VARIABLE = {
    "LEDGER_HOME": "/srv/ledger",
    "LEDGER_EVENT_STORE": "postgresql://ledger@db:5432/ledger",
    "LEDGER_LOCK_TIMEOUT": "3",
    "LEDGER_HOST": "0.0.0.0",
    "LEDGER_PORT": "8080",
    "LEDGER_WORKERS": "4",
    "LEDGER_MAX_BODY_BYTES": "1024",
    "LEDGER_VOTER_TOKENS_PER_WINDOW": "5",
    "LEDGER_VOTER_WINDOW_SECONDS": "10",
    "LEDGER_MIN_POSITION_TIMEOUT": "0.25",
    "LEDGER_READY_TIMEOUT": "0.5",
    "LEDGER_MIN_FREE_BYTES": "1048576",
    "LEDGER_IDEMPOTENCY_TTL": "600",
    "LEDGER_STREAM_KEEPALIVE": "30",
    "LEDGER_STREAM_POLL": "0.2",
    "LEDGER_STREAMS_PER_CLIENT": "4",
    "LEDGER_CONNECTIONS_PER_WORKER": "512",
    "LEDGER_HEADER_TIMEOUT": "5",
    "LEDGER_BODY_TIMEOUT": "7.5",
    "LEDGER_ACCESS_LOG": "off",
    "LEDGER_WRITE_LOCK": "no",
    "LEDGER_LOG_LEVEL": "debug",
    "LEDGER_LOG_ORIGIN": "reviews.example/log",
    "LEDGER_CHECKPOINT_EVERY": "250",
    "LEDGER_CHECKPOINT_SECONDS": "5",
    "LEDGER_FOLLOW_FALLBACK": "2.5",
    "LEDGER_NODE_NAME": "node-1",
    "LEDGER_PUBLIC_URL": "https://reviews.example",
    "LEDGER_SUBSCRIBE_PER_WINDOW": "3",
    "LEDGER_SUBSCRIBE_WINDOW_SECONDS": "60",
    "LEDGER_SMTP_URL": "smtps://mailer:secret@relay.example:465",
    "LEDGER_SMTP_CA_FILE": __file__,
    "LEDGER_MAIL_FROM": "Reviews Desk <desk@reviews.example>",
}

# A bad value of each variable that can have one, and what it is told.
# (Any text is a LEDGER_HOME, a LEDGER_HOST or a LEDGER_NODE_NAME.)
BAD = {
    "LEDGER_EVENT_STORE": (
        "mysql://ledger:hunter2@db/ledger",
        "LEDGER_EVENT_STORE must be a postgresql:// or postgres:// URL, "
        "not 'mysql://…'",
    ),
    "LEDGER_LOCK_TIMEOUT": (
        "soon",
        "LEDGER_LOCK_TIMEOUT must be an integer of at least 0, not 'soon'",
    ),
    "LEDGER_PORT": (
        "80800",
        "LEDGER_PORT must be an integer from 0 to 65535, not '80800'",
    ),
    "LEDGER_WORKERS": ("0", "LEDGER_WORKERS must be an integer of at least 1, not '0'"),
    "LEDGER_MAX_BODY_BYTES": (
        "64k",
        "LEDGER_MAX_BODY_BYTES must be an integer of at least 1, not '64k'",
    ),
    "LEDGER_VOTER_TOKENS_PER_WINDOW": (
        "-1",
        "LEDGER_VOTER_TOKENS_PER_WINDOW must be an integer of at least 0, not '-1'",
    ),
    "LEDGER_VOTER_WINDOW_SECONDS": (
        "1.5",
        "LEDGER_VOTER_WINDOW_SECONDS must be an integer of at least 1, not '1.5'",
    ),
    "LEDGER_MIN_POSITION_TIMEOUT": (
        "2s",
        "LEDGER_MIN_POSITION_TIMEOUT must be a number of at least 0, not '2s'",
    ),
    "LEDGER_READY_TIMEOUT": (
        "0",
        "LEDGER_READY_TIMEOUT must be a number of at least 0.01, not '0'",
    ),
    "LEDGER_MIN_FREE_BYTES": (
        "32M",
        "LEDGER_MIN_FREE_BYTES must be an integer of at least 0, not '32M'",
    ),
    "LEDGER_IDEMPOTENCY_TTL": (
        "1 day",
        "LEDGER_IDEMPOTENCY_TTL must be an integer of at least 0, not '1 day'",
    ),
    "LEDGER_STREAM_KEEPALIVE": (
        "nan",
        "LEDGER_STREAM_KEEPALIVE must be a number of at least 0.1, not 'nan'",
    ),
    "LEDGER_STREAM_POLL": (
        "0",
        "LEDGER_STREAM_POLL must be a number of at least 0.01, not '0'",
    ),
    "LEDGER_STREAMS_PER_CLIENT": (
        "0",
        "LEDGER_STREAMS_PER_CLIENT must be an integer of at least 1, not '0'",
    ),
    "LEDGER_CONNECTIONS_PER_WORKER": (
        "2",
        "LEDGER_CONNECTIONS_PER_WORKER must be an integer of at least 4, not '2'",
    ),
    "LEDGER_HEADER_TIMEOUT": (
        "0",
        "LEDGER_HEADER_TIMEOUT must be a number of at least 0.1, not '0'",
    ),
    "LEDGER_BODY_TIMEOUT": (
        "30s",
        "LEDGER_BODY_TIMEOUT must be a number of at least 0.1, not '30s'",
    ),
    "LEDGER_ACCESS_LOG": (
        "maybe",
        "LEDGER_ACCESS_LOG must be 1, true, yes, on, 0, false, no or off, not 'maybe'",
    ),
    "LEDGER_WRITE_LOCK": (
        "sometimes",
        "LEDGER_WRITE_LOCK must be 1, true, yes, on, 0, false, no or off, "
        "not 'sometimes'",
    ),
    "LEDGER_LOG_ORIGIN": (
        "two words",
        "LEDGER_LOG_ORIGIN must be a name without spaces or '+' of at most 200 "
        "characters, not 'two words'",
    ),
    "LEDGER_CHECKPOINT_EVERY": (
        "0",
        "LEDGER_CHECKPOINT_EVERY must be an integer of at least 1, not '0'",
    ),
    "LEDGER_CHECKPOINT_SECONDS": (
        "0",
        "LEDGER_CHECKPOINT_SECONDS must be a number of at least 0.01, not '0'",
    ),
    "LEDGER_FOLLOW_FALLBACK": (
        "0",
        "LEDGER_FOLLOW_FALLBACK must be a number of at least 0.01, not '0'",
    ),
    "LEDGER_PUBLIC_URL": (
        "ftp://reviews.example",
        "LEDGER_PUBLIC_URL must be a http:// or https:// URL, not 'ftp://…'",
    ),
    "LEDGER_SUBSCRIBE_PER_WINDOW": (
        "many",
        "LEDGER_SUBSCRIBE_PER_WINDOW must be an integer of at least 0, not 'many'",
    ),
    "LEDGER_SUBSCRIBE_WINDOW_SECONDS": (
        "0",
        "LEDGER_SUBSCRIBE_WINDOW_SECONDS must be an integer of at least 1, not '0'",
    ),
    "LEDGER_SMTP_URL": (
        "smtps://mailer:secret@",
        "LEDGER_SMTP_URL must name the relay's host, not 'smtps://…'",
    ),
    "LEDGER_SMTP_CA_FILE": (
        "/nowhere/relay-ca.pem",
        "LEDGER_SMTP_CA_FILE names no file: '/nowhere/relay-ca.pem'",
    ),
    "LEDGER_MAIL_FROM": (
        "the reviews desk",
        "LEDGER_MAIL_FROM must be an email address, not 'the reviews desk'",
    ),
    "LEDGER_LOG_LEVEL": (
        "loud",
        "LEDGER_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not 'loud'",
    ),
}
LEDGER_VARIABLES = {"LEDGER_HOME", "LEDGER_EVENT_STORE", "LEDGER_LOCK_TIMEOUT"}


def test_every_variable_is_read() -> None:
    settings = ApiSettings.from_env(EVERY_VARIABLE)
    assert settings == ApiSettings(
        ledger=Settings(
            home=Path("/srv/ledger"),
            event_store="postgresql://ledger@db:5432/ledger",
            lock_timeout=3,
        ),
        host="0.0.0.0",
        port=8080,
        workers=4,
        max_body_bytes=1024,
        voter_tokens_per_window=5,
        voter_window_seconds=10,
        min_position_timeout=0.25,
        ready_timeout_seconds=0.5,
        min_free_bytes=1048576,
        idempotency_ttl_seconds=600,
        stream_keepalive_seconds=30.0,
        stream_poll_seconds=0.2,
        streams_per_client=4,
        connections_per_worker=512,
        header_timeout_seconds=5.0,
        body_timeout_seconds=7.5,
        access_log=False,
        write_lock=False,
        log_level="DEBUG",
        chain=ChainSettings(
            home=Path("/srv/ledger"),
            origin="reviews.example/log",
            every=250,
            seconds=5.0,
        ),
        follow=FollowSettings(fallback_seconds=2.5, node_name="node-1"),
        public_url="https://reviews.example",
        subscribe_per_window=3,
        subscribe_window_seconds=60,
        mail=MailSettings(
            smtp_url="smtps://mailer:secret@relay.example:465",
            ca_file=__file__,
            mail_from="Reviews Desk <desk@reviews.example>",
        ),
    )
    assert settings.sender == "Reviews Desk <desk@reviews.example>"
    assert settings.site_url == "https://reviews.example"


def test_mails_come_from_the_sites_host_unless_told() -> None:
    assert (
        ApiSettings.from_env({"LEDGER_PUBLIC_URL": "https://reviews.example/"}).sender
        == "Verdict Ledger <verdicts@reviews.example>"
    )
    # A node reached at an IP address sends as localhost.
    assert ApiSettings.from_env({}).sender == "Verdict Ledger <verdicts@localhost>"


def test_unset_or_empty_variables_mean_the_defaults() -> None:
    assert ApiSettings.from_env({}) == ApiSettings()
    assert ApiSettings.from_env(dict.fromkeys(EVERY_VARIABLE, " ")) == ApiSettings()


def test_every_variable_that_can_be_bad_is_checked() -> None:
    anything = {"LEDGER_HOME", "LEDGER_HOST", "LEDGER_NODE_NAME"}
    assert BAD.keys() == EVERY_VARIABLE.keys() - anything


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_value_is_named_in_one_clear_message(name: str) -> None:
    value, message = BAD[name]
    exactly = f"^{re.escape(message)}$"
    with pytest.raises(ValueError, match=exactly):
        ApiSettings.from_env({name: value})
    if name in LEDGER_VARIABLES:
        with pytest.raises(ValueError, match=exactly):
            Settings.from_env({name: value})


def test_a_refused_url_does_not_show_its_password() -> None:
    value, _ = BAD["LEDGER_EVENT_STORE"]
    with pytest.raises(ValueError, match=r"^LEDGER_EVENT_STORE must be") as refused:
        Settings.from_env({"LEDGER_EVENT_STORE": value})
    assert "hunter2" not in str(refused.value)


@pytest.mark.parametrize("name", sorted(BAD))
def test_ledger_serve_refuses_a_bad_value_in_one_line(
    name: str, tmp_path: Path
) -> None:
    value, message = BAD[name]
    env = {"LEDGER_HOME": str(tmp_path), name: value}
    result = CliRunner().invoke(serve, [], env=env)
    assert result.exit_code == 1
    assert result.output == f"Error: {message}\n"
    assert not (tmp_path / "events.sqlite").exists()


@pytest.mark.parametrize("name", ["LEDGER_LOCK_TIMEOUT", "LEDGER_WORKERS"])
def test_the_ledger_command_says_it_without_a_traceback(
    name: str, tmp_path: Path
) -> None:
    """The installed command, in a process of its own, for each package."""
    value, message = BAD[name]
    env = {**os.environ, "LEDGER_HOME": str(tmp_path), name: value}
    done = subprocess.run(
        [LEDGER, "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr == f"Error: {message}\n"
    assert done.stdout == ""
