"""Deliberately broken resumes for the ``--kill-every`` tests: journal readers that hide
the tools' outputs from a resume, or its last reply while saying a reply is owed
(``run_stress(..., resume_reader=...)``).

A top-level function, so the spawned worker processes can unpickle it (they inherit
the test process's ``sys.path``, which holds this folder). The judge reads the journal
through its own store, not through this one, so it must see what the resume left out.
"""

from __future__ import annotations

from accord.items import FunctionCallOutput, Message
from accord.journal import Entry, JournalStore, Record, StoreWrapper
from accord.journal.records import ReplyOwed
from accord.journal.state import replay


class WithoutOutputs(StoreWrapper):
    """The journal as a buggy resume would read it: every tool output's entry gone."""

    def load(self, key: str) -> list[Record]:
        return [
            r
            for r in self.inner.load(key)
            if not (isinstance(r, Entry) and isinstance(r.item, FunctionCallOutput))
        ]


def drop_outputs(store: JournalStore) -> JournalStore:
    return WithoutOutputs(store)


class WithoutLastReply(StoreWrapper):
    """The journal as another buggy resume would read it: the conversation's last item,
    when it is a reply of the assistant, gone, and a reply said to be owed, so the model
    is asked to answer again what it had answered."""

    def load(self, key: str) -> list[Record]:
        records = self.inner.load(key)
        ordered = replay(records).ordered()
        last = ordered[-1] if ordered else None
        if last is None or last.partial or not isinstance(last.item, Message):
            return records
        if last.item.role != "assistant":
            return records
        gone = last.item.id
        kept = [r for r in records if not (isinstance(r, Entry) and r.item.id == gone)]
        return [*kept, ReplyOwed(True)]


def forget_last_reply(store: JournalStore) -> JournalStore:
    return WithoutLastReply(store)
