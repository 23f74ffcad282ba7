"""Server-issued ids in the real server's format, never repeated by another server process.

Format (tests/data/real-traces, rule R17, seen in every recorded session): ``event_``,
``item_``, ``resp_``, ``conv_`` and ``sess_`` followed by 21 alphanumerics, ``call_``
followed by 16.

Uniqueness. The ids were a seeded counter stream: two processes with the same seed (a
restarted ``accord sim serve``) issued the same ids, so an agent restoring its items
after a reconnect re-created exactly the ids the new server was about to give its own
response items, and every response failed. Now every stream mixes in
:data:`PROCESS_NONCE`, drawn once per process from the OS: ids of one process never
recur in another, while two runs with the same seed in one process (a test) still get
the same ids. Within a process, each session draws from its own stream (``stream``), so
sessions never share ids either. Item ids are also checked against the conversation
(``taken``): a client may have chosen any id, including one the stream would produce.
"""

from __future__ import annotations

import random
import secrets
import string
import uuid
from collections.abc import Callable

#: Drawn once per process; mixed into every id stream (see the module docstring).
PROCESS_NONCE: int = secrets.randbits(64)

ALPHABET = string.ascii_letters + string.digits
ID_CHARS = 21  # after the prefix, for every id kind but calls (observed)
CALL_ID_CHARS = 16  # observed: call_ + 16
_SPACE = len(ALPHABET) ** ID_CHARS


#: Two base-62 digits at a time, least significant first (as :func:`_token` writes them):
#: half the divisions for every id and obfuscation string a session draws.
_PAIRS = [ALPHABET[n % 62] + ALPHABET[n // 62] for n in range(62 * 62)]


def _token(value: int, width: int) -> str:
    """``value`` as exactly ``width`` base-62 digits, least significant first (so the
    trailing ones may be ``a``: the digit 0)."""
    out = []
    for _ in range(width // 2):
        value, pair = divmod(value, 3844)
        out.append(_PAIRS[pair])
    if width % 2:
        out.append(ALPHABET[value % 62])
    return "".join(out)


class ServerIds:
    """One session's (or server's) stream of ids, events' obfuscation strings included.

    ``seed`` None draws a stream no run can repeat; a seed repeats it within a process.
    """

    def __init__(
        self,
        seed: int | None = 0,
        *,
        stream: int = 0,
        nonce: int | None = None,
        uuids: bool = False,
    ) -> None:
        # ``uuids``: every id a UUID4, prefix and all (xAI's format, sim/dialects.py).
        self._uuids = uuids
        if seed is None:
            self._rng = random.Random(secrets.randbits(128))
        else:
            mixed = PROCESS_NONCE if nonce is None else nonce
            # A string seed is hashed (SHA-512) by random.Random: stable across runs.
            self._rng = random.Random(f"accord-sim:{mixed}:{seed}:{stream}")

    def next(self, prefix: str = "event") -> str:
        """A fresh id: ``<prefix>_`` and 21 alphanumerics (16 for ``call``)."""
        if self._uuids and prefix != "call":
            return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        width = CALL_ID_CHARS if prefix == "call" else ID_CHARS
        return f"{prefix}_{_token(self._rng.getrandbits(128) % _SPACE, width)}"

    def event(self) -> str:
        return self.next("event")

    def item(self, taken: Callable[[str], bool] = lambda _: False) -> str:
        """An item id ``taken`` does not refuse (the conversation's ids, alive or deleted)."""
        while True:
            candidate = self.next("item")
            if not taken(candidate):
                return candidate

    def obfuscation(self) -> str:
        """The ``obfuscation`` string of a delta (length varies, as observed)."""
        length = 8 + self._rng.getrandbits(3)
        return _token(self._rng.getrandbits(96), length)
