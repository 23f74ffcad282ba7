"""The pure three-way merge: (base, desired, projected) -> planned operations.

docs/architecture.md, "The principle". ``base`` is what the writer had seen, ``desired`` is
what it wants, ``projected`` is the server as it will be once every pending and deferred
operation lands. Each merge rule is one named function below, and each can be switched
off (:class:`Rules`) so the tests can show that some race catches its absence.

The merge decides *what* changes; the scheduler decides *when* each operation may go
(in-flight deferral, acknowledged anchors, pairs, the response slot).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field, replace
from operator import lt

from accord.diff import longest_increasing_run
from accord.items import FunctionCall, FunctionCallOutput, Item, McpItem, Message
from accord.provenance import DeleteReason


@dataclass(frozen=True, slots=True)
class Rules:
    """The merge and scheduling rules; each True in accord. Tests switch one off at a time."""

    presence: bool = True  # delete only what the base held and the writer removed
    content: bool = True  # rewrite only what the writer changed relative to its base
    order: bool = True  # new items after concurrent inserts; moves only vs the base
    pairs: bool = True  # a call and its output move as one; output after its call's ack
    in_flight_deferral: bool = True  # never delete an item in flight: defer
    acked_anchors: bool = True  # anchor only on acknowledged items, else re-anchor
    creates_before_deletes: bool = True  # a batch's creates go before its deletes
    response_slot: bool = True  # one in-band response; hold ours until the batch is acked
    follow_up_once: bool = True  # R14: no follow-up for outputs a later response already saw


@dataclass(frozen=True, slots=True)
class PlannedRemoval:
    item_id: str
    reason: DeleteReason
    partner_of: str | None = None


@dataclass(frozen=True, slots=True)
class PlannedCreate:
    """Create ``item`` after ``after`` (a projected id or an earlier planned create's id;
    None for the start). ``replaces``: the id a rewrite or move supersedes."""

    item: Item
    after: str | None
    replaces: str | None = None


@dataclass
class MergePlan:
    removals: list[PlannedRemoval] = field(default_factory=list)
    creates: list[PlannedCreate] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    retracted: list[str] = field(default_factory=list)  # deferred deletes taken back
    failed: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.removals or self.creates)


@dataclass(slots=True)
class MergeInput:
    """Everything the merge reads. ``base`` None: a context built from scratch.

    Not frozen, though nothing changes it: a frozen dataclass's ``__init__`` sets each
    of these fields through ``object.__setattr__``, a tenth of an append's whole push."""

    base: Sequence[Item] | None
    desired: Sequence[Item]
    projected: Sequence[Item]
    aliases: Mapping[str, str]  # old id -> current id, from earlier rewrites and moves
    known_deleted: Callable[[str], bool]  # the id was on the server once and is gone
    in_flight: Callable[[str], bool]
    new_id: Callable[[Item], str]
    retractable: Callable[[str], bool] = lambda _item_id: False  # a deferred delete, unsent
    explicit_replace: bool = False
    rules: Rules = field(default_factory=Rules)
    #: The ids of ``projected``, when the caller has them indexed (the engine's mirror):
    #: lets an append skip indexing every item (None: the merge indexes them itself).
    projected_ids: Container[str] | None = None
    #: Call ids of the function calls placed before ``desired`` begins: an append merged
    #: on its tail (see :func:`merge`) still lets an output follow an earlier call.
    prior_calls: frozenset[str] = frozenset()


def resolve_alias(aliases: Mapping[str, str], item_id: str) -> str:
    """Follow old -> new ids to the current one (rewrites can chain)."""
    seen = 0
    while item_id in aliases and seen < 64:
        item_id = aliases[item_id]
        seen += 1
    return item_id


class _Merge:
    """One merge: the inputs indexed, and the plan being built."""

    def __init__(self, inp: MergeInput) -> None:
        self.inp = inp
        self.rules = inp.rules
        self.plan = MergePlan()
        self.proj = {item.id: item for item in inp.projected}
        self.proj_order = {item.id: i for i, item in enumerate(inp.projected)}
        self.base: dict[str, Item] | None = None
        self.base_order: dict[str, int] = {}
        if inp.base is not None:
            self.base, self.base_order = self._resolved_base(inp.base)
        self.desired = self._resolved_desired(inp.desired)
        self.desired_ids = {item.id for item in self.desired}
        self.removed: set[str] = set()

    # -- aliases: the writer may still name ids that a rewrite superseded ---------------

    def _resolved_base(self, base: Sequence[Item]) -> tuple[dict[str, Item], dict[str, int]]:
        items: dict[str, Item] = {}
        order: dict[str, int] = {}
        for i, item in enumerate(base):
            # The writer may name an id a rewrite superseded: its base content stays
            # what the writer saw, so pushing the same context again changes nothing
            # (desired == current) and a writer that did not touch it keeps the rewrite.
            current = resolve_alias(self.inp.aliases, item.id)
            items[current] = replace(item, id=current) if current != item.id else item
            order[current] = i
        return items, order

    def _resolved_desired(self, desired: Sequence[Item]) -> list[Item]:
        out: list[Item] = []
        seen: set[str] = set()
        for item in desired:
            current = resolve_alias(self.inp.aliases, item.id)
            if current in seen:
                self.plan.failed.append((item.id, "named twice in the pushed context"))
                continue
            seen.add(current)
            out.append(replace(item, id=current) if current != item.id else item)
        return out

    # -- presence -----------------------------------------------------------------------

    def presence(self) -> None:
        """Delete only what the base held and the writer removed; keep the rest."""
        would_delete = 0
        for item in self.inp.projected:
            if item.id in self.desired_ids or item.id in self.removed:
                continue
            if self.inp.explicit_replace:
                if self.inp.in_flight(item.id):
                    self.plan.notes.append(f"replace kept {item.id}: in flight")
                    continue
                self._remove(item, DeleteReason.REPLACE)
            elif not self.rules.presence or (self.base is not None and item.id in self.base):
                self._remove(item, DeleteReason.PUSH)
            elif self.base is None:
                would_delete += 1
        if would_delete:
            self.plan.notes.append(
                f"no base: kept {would_delete} item(s) missing from the pushed context "
                "(use an explicit replace to delete them)"
            )

    def _remove(self, item: Item, reason: DeleteReason, partner_of: str | None = None) -> None:
        """Plan a removal; with its pair, the output's delete goes first, so the server
        never holds an output without its call, even for one transition."""
        self.removed.add(item.id)
        cascade = self.rules.pairs and reason is not DeleteReason.PAIR_CASCADE
        if cascade and isinstance(item, FunctionCall):
            self._cascade(item)
        self.plan.removals.append(PlannedRemoval(item.id, reason, partner_of))
        if cascade and not isinstance(item, FunctionCall):
            self._cascade(item)

    def _cascade(self, item: Item) -> None:
        """Pairs: removing a call removes its output and the other way round."""
        if not isinstance(item, FunctionCall | FunctionCallOutput):
            return
        for other in self.inp.projected:
            if (
                other.id not in self.removed
                and isinstance(other, FunctionCall | FunctionCallOutput)
                and other.call_id == item.call_id
                and type(other) is not type(item)
            ):
                self._remove(other, DeleteReason.PAIR_CASCADE, partner_of=item.id)

    # -- content ------------------------------------------------------------------------

    def writer_changed(self, item: Item) -> bool:
        """Content: the writer changed ``item`` relative to its base (server-side changes
        since the base, such as a transcript, win over the writer's stale copy)."""
        current = self.proj.get(item.id)
        # ``is`` first: an unchanged item is usually the very object the mirror holds
        # (contexts are built from it), and comparing fields costs a tuple per item.
        if current is None or current is item or current == item:
            return False
        if not self.rules.content:
            return True
        if self.base is None:
            return self.inp.explicit_replace
        before = self.base.get(item.id)
        return before is not None and before != item

    # -- order ----------------------------------------------------------------------------

    def moved(self) -> set[str]:
        """Survivors the writer reversed relative to its base (against projected order
        when the order rule is off)."""
        survivors = [
            item.id
            for item in self.desired
            if item.id in self.proj
            and item.id not in self.removed
            and (self.base is None or item.id in self.base or not self.rules.order)
        ]
        reference = self.base_order if (self.rules.order and self.base) else self.proj_order
        ranked = [sid for sid in survivors if sid in reference]
        keep = kept_in_order([reference[sid] for sid in ranked])
        moved = set() if keep is None else {sid for k, sid in enumerate(ranked) if k not in keep}
        for item_id in sorted(moved, key=lambda i: self.proj_order[i]):
            if self.inp.in_flight(item_id) or isinstance(
                self.proj[item_id], FunctionCall | FunctionCallOutput | McpItem
            ):
                self.plan.notes.append(f"move of {item_id} refused: in flight or paired")
                moved.discard(item_id)
        return moved

    def concurrent_tail(self, anchor: str | None) -> str | None:
        """After ``anchor``, skip the projected items the writer never saw (inserted
        concurrently by the server or another push): new items go after them, so
        concurrent inserts at one anchor keep push order."""
        if not self.rules.order:
            return anchor
        i = -1 if anchor is None else self.proj_order.get(anchor, -2)
        if i == -2:
            return anchor
        projected = self.inp.projected
        while i + 1 < len(projected):
            nxt = projected[i + 1]
            unseen = (self.base is None or nxt.id not in self.base) and (
                nxt.id not in self.desired_ids
            )
            if not unseen or nxt.id in self.removed:
                break
            i += 1
            anchor = nxt.id
        return anchor

    # -- placing creates ----------------------------------------------------------------

    def place(self) -> None:
        moved = self.moved()
        anchor: str | None = None  # result id of the nearest preceding survivor
        anchor_is_new = False
        planned_calls: set[str] = set(self.inp.prior_calls)
        for item in self.desired:
            if item.id in self.proj and item.id not in self.removed and item.id not in moved:
                if self.writer_changed(item):
                    if isinstance(item, FunctionCall | McpItem):
                        # Calls, MCP items included, are the model's (or the server's):
                        # a rewrite would re-create them under an id it never gave.
                        self.plan.notes.append(
                            f"call {item.id} not rewritten: calls are the model's"
                        )
                        anchor, anchor_is_new = item.id, False
                        continue
                    new = self._rewrite(item, item.id, DeleteReason.REWRITE)
                    anchor, anchor_is_new = new, True
                else:
                    anchor, anchor_is_new = item.id, False
                if isinstance(item, FunctionCall):
                    planned_calls.add(item.call_id)
                continue
            if item.id in moved:
                after = anchor if anchor_is_new else self.concurrent_tail(anchor)
                anchor, anchor_is_new = self._rewrite(item, after, DeleteReason.MOVE), True
                continue
            if item.id in self.proj:  # removed by this merge (edit against delete)
                continue
            if self._put_back(item):
                after = anchor if anchor_is_new else self.concurrent_tail(anchor)
                anchor, anchor_is_new = self._recreate(item, after), True
                continue
            if self._blocked_create(item, planned_calls):
                continue
            after = anchor if anchor_is_new else self.concurrent_tail(anchor)
            self.plan.creates.append(PlannedCreate(item, after))
            if isinstance(item, FunctionCall):
                planned_calls.add(item.call_id)
            anchor, anchor_is_new = item.id, True

    def _blocked_create(self, item: Item, planned_calls: set[str]) -> bool:
        """An item of the pushed context that must not be created: reports why."""
        in_base = self.base is not None and item.id in self.base
        if not in_base and self.inp.retractable(item.id):
            # The writer saw it removed and put it back while its delete was still
            # deferred: the delete is taken back, the item never left the server.
            self.plan.retracted.append(item.id)
            return True
        if in_base or self.inp.known_deleted(item.id):
            if in_base and self.base is not None and self.base[item.id] != item:
                self.plan.notes.append(f"edit of {item.id} lost: it was deleted (delete wins)")
            elif not in_base:
                self.plan.notes.append(f"{item.id} not created again: it was deleted")
            return True  # no resurrection
        if (
            self.rules.pairs
            and isinstance(item, FunctionCallOutput)
            and item.call_id not in planned_calls
        ):
            self.plan.failed.append((item.id, f"its call {item.call_id} is not before it"))
            return True
        return False

    def _put_back(self, item: Item) -> bool:
        """A writer that saw a message deleted (its base lacks it) puts it back: it is
        created again, under a fresh id since the server already used this one."""
        return (
            isinstance(item, Message)
            and self.base is not None
            and item.id not in self.base
            and self.inp.known_deleted(item.id)
            and not self.inp.retractable(item.id)
        )

    def _recreate(self, item: Item, after: str | None) -> str:
        new_id = self.inp.new_id(item)
        self.plan.creates.append(PlannedCreate(replace(item, id=new_id), after, item.id))
        self.plan.aliases[item.id] = new_id
        self.plan.notes.append(f"{item.id} put back as {new_id}: its id was deleted")
        return new_id

    def _rewrite(self, item: Item, after: str | None, reason: DeleteReason) -> str:
        """Delete + create under a fresh id at the same place, with an alias old -> new."""
        new_id = self.inp.new_id(item)
        self.plan.creates.append(PlannedCreate(replace(item, id=new_id), after, item.id))
        self.plan.aliases[item.id] = new_id
        self.removed.add(item.id)
        self.plan.removals.append(PlannedRemoval(item.id, reason))
        return new_id


def kept_in_order(values: list[int]) -> set[int] | None:
    """The indexes of ``values`` that stay in place, or None for all of them.

    The usual push (an append, an edit, deletes) keeps the survivors in order: one linear
    check then skips the longest-increasing-subsequence step, whose answer for a strictly
    increasing sequence is the whole of it.
    """
    if all(map(lt, values, values[1:])):
        return None
    return longest_increasing_run(values)


def starts_with(items: Sequence[Item], prefix: Sequence[Item]) -> bool:
    """``items`` begins with the items of ``prefix``, in order.

    One C-level tuple comparison: contexts are built from the engine's snapshot, so an
    untouched item is the very same object and compares by identity without reading a
    field. An equal copy passes too, and is as unchanged to the merge as the object.
    """
    n = len(prefix)
    return len(items) >= n and tuple(items[:n]) == tuple(prefix)


def _appended_tail(inp: MergeInput) -> MergeInput | None:
    """The same merge on two items instead of n, for a push that keeps every projected
    item as it is and only appends: ``desired`` begins with the projected objects
    themselves, the base (if any) is exactly them too, no alias renames one of them and
    no appended item names one. None when any of that does not hold.

    Why it is the same plan: every projected item is kept (presence removes nothing),
    unchanged (``writer_changed`` sees the same object), in order (no move); so the
    merge's only decisions are about the appended items, and what those read of the
    rest is the last projected item (their anchor, with nothing after it), whether an
    id is projected or in the base, and the calls placed before them (``prior_calls``).
    A hypothesis test holds the two paths to the same plan."""
    projected, base = inp.projected, inp.base
    if len(projected) < 2 or not starts_with(inp.desired, projected):
        return None
    if base is not None and (len(base) != len(projected) or not starts_with(base, projected)):
        return None
    ids = inp.projected_ids
    if ids is None:
        ids = {item.id for item in projected}
    aliases = inp.aliases
    if any(old in ids for old in aliases):
        return None
    tail = inp.desired[len(projected) :]
    if any(resolve_alias(aliases, item.id) in ids for item in tail):
        return None
    last = projected[-1:]
    calls = inp.prior_calls
    if any(isinstance(item, FunctionCallOutput) for item in tail):
        calls = calls | {i.call_id for i in projected[:-1] if isinstance(i, FunctionCall)}
    return MergeInput(  # not dataclasses.replace: it costs as much as this whole merge
        base=None if base is None else last,
        desired=[*last, *tail],
        projected=last,
        aliases=aliases,
        known_deleted=inp.known_deleted,
        in_flight=inp.in_flight,
        new_id=inp.new_id,
        retractable=inp.retractable,
        explicit_replace=inp.explicit_replace,
        rules=inp.rules,
        prior_calls=calls,
    )


def merge(inp: MergeInput) -> MergePlan:
    """Plan the operations that bring the projected state to the writer's intent.

    An append (the usual push: a new message at the end, nothing else touched) is
    merged on its tail, so that it costs its change rather than the conversation."""
    return merge_in_full(_appended_tail(inp) or inp)


def merge_in_full(inp: MergeInput) -> MergePlan:
    """The merge over every item, without the append shortcut (tests compare the two)."""
    m = _Merge(inp)
    m.presence()
    m.place()
    return m.plan
