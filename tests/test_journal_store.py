"""The journal's stores (SQLite and a real Redis) behind one interface, and its URLs."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from accord.errors import AccordError
from accord.items import FunctionCall, FunctionCallOutput, Message
from accord.journal import (
    CallFinished,
    CallStarted,
    Config,
    Entry,
    JournalCorrupt,
    JournalUnavailable,
    JournalUrlError,
    Opened,
    Removed,
    open_journal,
)
from accord.journal.records import decode, encode
from accord.journal.urls import redact_url, sqlite_path
from journal_support import free_port, journal_url, redis_url

__all__ = ["journal_url", "redis_url"]  # fixtures

RECORDS = [
    Opened(created_at=1.5),
    Config({"instructions": "be brief", "tools": [{"type": "function", "name": "f"}]}),
    Entry(Message(id="u1", role="user", content="héllo"), None),
    Entry(FunctionCall(id="c1", call_id="call_1", name="f", arguments='{"a": 1}'), "u1"),
    CallStarted("call_1", idempotent=True),
    Entry(FunctionCallOutput(id="o1", call_id="call_1", output="{}"), "c1", pending=True),
    CallFinished("call_1"),
    Entry(
        Message(id="a1", role="assistant", content="Done", audio=True, audio_ms=900),
        "o1",
        partial=False,
        heard_ms=300,
        full_transcript="Done, it is sunny",
        full_ms=900,
    ),
    Removed("u1"),
]


def test_every_record_survives_its_json_line() -> None:
    for record in RECORDS:
        line = encode(record)
        assert "\n" not in line
        assert decode(line) == record


def test_an_unreadable_line_is_journal_corrupt() -> None:
    for line in ("not json", '{"t": "nope"}', '{"t": "entry", "item": {"type": "x"}}', "[]"):
        with pytest.raises(JournalCorrupt):
            decode(line)


def test_stores_append_load_delete_keys(journal_url: str) -> None:
    store = open_journal(journal_url)
    a, b = f"a-{uuid.uuid4().hex}", f"b-{uuid.uuid4().hex}"
    try:
        assert store.load(a) == []
        store.append(a, RECORDS[:3])
        store.append(b, [RECORDS[0]])
        store.append(a, RECORDS[3:])
        store.append(a, [])
        assert store.load(a) == RECORDS
        assert store.load(b) == [RECORDS[0]]
        assert {a, b} <= set(store.keys())
        store.delete(a)
        assert store.load(a) == []
        keys = store.keys()
        assert a not in keys
        assert b in keys
    finally:
        store.close()


def test_a_second_connection_reads_what_the_first_appended(journal_url: str) -> None:
    key = uuid.uuid4().hex
    writer, reader = open_journal(journal_url), open_journal(journal_url)
    try:
        writer.append(key, RECORDS)
        assert reader.load(key) == RECORDS
    finally:
        writer.close()
        reader.close()


def test_sqlite_urls_follow_sqlalchemy() -> None:
    assert sqlite_path("sqlite:///relative.db") == "relative.db"
    assert sqlite_path("sqlite:///dir/relative.db") == "dir/relative.db"
    assert sqlite_path("sqlite:////abs/path.db") == "/abs/path.db"
    assert sqlite_path("sqlite://") == ":memory:"


def test_a_relative_sqlite_url_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_journal("sqlite:///here.db")
    store.append("k", RECORDS[:1])
    store.close()
    assert (tmp_path / "here.db").exists()


def test_the_sqlite_store_is_in_wal_mode(tmp_path: Path) -> None:
    import sqlite3

    open_journal(f"sqlite:///{tmp_path / 'w.db'}").close()
    mode = sqlite3.connect(tmp_path / "w.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


@pytest.mark.parametrize(
    "url",
    ["postgres://x/y", "journal.db", "sqlite:/x.db", "sqlite:///", "sqlite:///x.db?mode=ro", ""],
)
def test_a_bad_url_is_a_journal_url_error(url: str) -> None:
    with pytest.raises(JournalUrlError) as raised:
        open_journal(url)
    assert isinstance(raised.value, AccordError)
    assert isinstance(raised.value, ValueError)


def test_an_unopenable_sqlite_file_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(JournalUnavailable, match="cannot be opened"):
        open_journal(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")


def test_an_unreachable_redis_is_unavailable_and_hides_the_password() -> None:
    pytest.importorskip("redis")
    url = f"redis://user:s3cret@127.0.0.1:{free_port()}/0"
    with pytest.raises(JournalUnavailable, match="unreachable") as raised:
        open_journal(url)
    assert "s3cret" not in str(raised.value)
    assert isinstance(raised.value, AccordError)


def test_redact_url() -> None:
    assert redact_url("redis://u:pw@h:1/0") == "redis://u:***@h:1/0"
    assert redact_url("redis://h:1/0") == "redis://h:1/0"


def test_a_store_passes_through_open_journal(tmp_path: Path) -> None:
    store = open_journal(f"sqlite:///{tmp_path / 's.db'}")
    assert open_journal(store) is store
    store.close()


def test_redis_tests_are_not_silently_skipped_here() -> None:
    """Where redis-server is installed the Redis tests run (a skip says why otherwise)."""
    from journal_support import redis_binary

    if os.environ.get("CI") and redis_binary() is None:
        pytest.fail("CI must install redis-server (.ci/run does)")
