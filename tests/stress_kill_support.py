"""A deliberately broken resume for the ``--kill-every`` tests: a journal reader that
hides the tools' outputs from a resume (``run_stress(..., resume_reader=...)``).

A top-level function, so the spawned worker processes can unpickle it (they inherit
the test process's ``sys.path``, which holds this folder). The judge reads the journal
through its own store, not through this one, so it must see what the resume left out.
"""

from __future__ import annotations

from accord.items import FunctionCallOutput
from accord.journal import Entry, JournalStore, Record, StoreWrapper


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
