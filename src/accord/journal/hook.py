"""A session's journal as its asyncio shell uses it: notes, checkpoints, one failure.

The shell (:mod:`accord.session`) holds one :class:`SessionJournal` when it was given
a journal. Its writer notes the tool reports the engine's state does not show; the
shell calls :meth:`SessionJournal.checkpoint` before it sends a step's frames (write
before send), and stops the session when the store cannot take a write: a session
that cannot journal an effect does not send it.
"""

from __future__ import annotations

from typing import Any

from accord.engine.engine import SyncEngine
from accord.engine.interface import Client
from accord.engine.resume import ResumeInput
from accord.errors import JournalError
from accord.journal.writer import JournalWriter


class SessionJournal:
    """One session's writer, the restore it opens with (a resume) and its failure."""

    def __init__(
        self, writer: JournalWriter, engine: Client, plan: ResumeInput | None = None
    ) -> None:
        if not isinstance(engine, SyncEngine):
            raise JournalError("a journal needs accord's engine (SessionOptions.strategy=ACCORD)")
        self.writer = writer
        self.plan = plan  # taken by the shell when it opens the first connection
        self.broken: JournalError | None = None

    @property
    def key(self) -> str:
        return self.writer.key

    def take_plan(self) -> ResumeInput | None:
        plan, self.plan = self.plan, None
        return plan

    def checkpoint(self, engine: Client, config: dict[str, Any]) -> JournalError | None:
        """Write this step's changes; the error that stops the session when the store
        cannot take them (then, and ever after, nothing more may be sent)."""
        if self.broken is None:
            assert isinstance(engine, SyncEngine)
            try:
                self.writer.checkpoint(engine, config)
            except JournalError as exc:
                self.broken = exc
                return exc
        return None

    def is_broken(self) -> bool:
        return self.broken is not None
