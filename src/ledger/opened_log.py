"""The log's events as they are shown: their personal data opened.

The log keeps personal data sealed (:mod:`ledger.personal_data`), and
:class:`ledger.log.LoggedEvent` holds what the log keeps. What prints or
sends events to readers (``ledger log``, the event stream) opens them here,
for the keys as they are at that moment: an erased person's data shows as
:data:`~ledger.personal_data.ERASED`.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from ledger.log import LoggedEvent
from ledger.personal_data import Sealer


def opened(sealer: Sealer, events: Sequence[LoggedEvent]) -> list[LoggedEvent]:
    """``events`` with the sealed text of their reasons and data opened.

    One key lookup for all of them; a subscriber's address stays private.
    """
    texts = sealer.unseal_tree([[event.reason, event.data] for event in events])
    return [
        msgspec.structs.replace(event, reason=reason, data=data)
        for event, (reason, data) in zip(events, texts, strict=True)
    ]
