"""The services every function receives: singletons built once, and one wire service."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from pikku_core import EventHub, QueueService, Wire

from .config import DemoConfig
from .db import Database


@dataclass
class LibraryServices:
    """Singleton services, built once when the app starts (closed when it stops)."""

    config: DemoConfig
    db: Database

    def close(self) -> None:
        self.db.close()


class AuditLog:
    """A per-call wire service: collects what a call changed, logs it when the call ends.

    Built only when a function touches ``services.audit`` and closed by core in the
    call's ``finally``, so a failed call logs what it did before failing.
    """

    def __init__(self, logger: logging.Logger, who: str) -> None:
        self.logger = logger
        self.who = who
        self.entries: list[str] = []

    def record(self, action: str, subject: str) -> None:
        self.entries.append(f"{action} {subject}")

    def close(self) -> None:
        for entry in self.entries:
            self.logger.info("audit: %s by %s", entry, self.who)


def make_audit(services: Any, wire: Wire[Any]) -> AuditLog:
    session = wire.session
    who = getattr(session, "name", None) or "anonymous"
    return AuditLog(logging.getLogger("pikku_demo.audit"), who)


class Services(Protocol):
    """What functions see as ``services``: ours plus those core adds."""

    config: DemoConfig
    db: Database
    event_hub: EventHub
    queue: QueueService
    logger: logging.Logger
    audit: AuditLog
