"""Verdict Ledger's write side: the domain model, its commands and the event store."""

from ledger.application import Ledger, Receipt
from ledger.context import Context
from ledger.settings import Settings

__all__ = ["Context", "Ledger", "Receipt", "Settings"]
