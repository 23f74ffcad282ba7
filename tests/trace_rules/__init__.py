"""The real server's shape rules R01..R17 (tests/data/real-traces/RULES.md) as a checker.

Each rule is a function over a :class:`Trace` (the server events of one session, in the
order received, plus the client frames that were sent) returning readable
:class:`Violation` objects. The checker is proven on the recordings themselves (every rule
holds on all five, and a broken copy of a recording breaks the rule it should), then run
on what the simulator sends back when the recordings' client frames are replayed to it.

Client frames in the recordings carry no ``event_id`` and mostly no item ids, so the ack
rules (R10, R12) pair an id-less create with the server's ``conversation.item.added`` by
order: the n-th id-less create is acknowledged by the n-th ``added`` of an item that no
response and no audio commit announced first.
"""

from __future__ import annotations

from trace_rules.base import Rule, Trace, Violation
from trace_rules.items import (
    r10_previous_item_id,
    r11_item_lifecycle,
    r12_client_acks,
    r14_audio_input,
)
from trace_rules.responses import (
    r05_response_bracket,
    r06_response_output,
    r07_item_order,
    r08_modality,
    r09_concat,
    r15_rate_limits,
)
from trace_rules.wire import (
    r01_ids,
    r02_sdk_union,
    r03_session,
    r04_keys,
    r13_error_shape,
    r16_output_audio_buffer,
    r17_id_format,
)

RULES: dict[str, Rule] = {
    "R01": r01_ids,
    "R02": r02_sdk_union,
    "R03": r03_session,
    "R04": r04_keys,
    "R05": r05_response_bracket,
    "R06": r06_response_output,
    "R07": r07_item_order,
    "R08": r08_modality,
    "R09": r09_concat,
    "R10": r10_previous_item_id,
    "R11": r11_item_lifecycle,
    "R12": r12_client_acks,
    "R13": r13_error_shape,
    "R14": r14_audio_input,
    "R15": r15_rate_limits,
    "R16": r16_output_audio_buffer,
    "R17": r17_id_format,
}


def check(trace: Trace, rules: list[str] | None = None) -> list[Violation]:
    """Every violation of ``rules`` (all of them by default) in ``trace``, rule by rule."""
    found: list[Violation] = []
    for name in rules or list(RULES):
        found.extend(RULES[name](trace))
    return found


__all__ = ["RULES", "Trace", "Violation", "check"]
