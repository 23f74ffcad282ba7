"""The keys accord writes into a ``response.create``'s ``metadata``.

The server echoes a request's metadata in its ``response.created``, and that echo is the
only way to tell which response answers which request (``response.created`` carries no
client event id). accord tags every request it sends with its own event id, and the
LiveKit adapter adds the id of the ``generate_reply`` call the request serves. Both
keys are wire spellings, so they are kept here with the others.
"""

from __future__ import annotations

from typing import Final

REQUEST_TAG: Final = "accord_event"  # the event id of the response.create
LIVEKIT_REQUEST_TAG: Final = "livekit_request"  # the LiveKit generate_reply it answers
