"""Journal URLs, read as SQLAlchemy reads them, and shown without their passwords."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from accord.errors import JournalUrlError


def sqlite_path(url: str) -> str:
    """The file a ``sqlite:`` URL names, as SQLAlchemy reads it: ``sqlite:///a.db`` is
    ``a.db`` (relative), ``sqlite:////a.db`` is ``/a.db``, ``sqlite://`` is memory."""
    if url in ("sqlite://", "sqlite:///:memory:"):
        return ":memory:"
    if not url.startswith("sqlite:///") or "?" in url:
        raise JournalUrlError(
            f"journal URL {url!r}: a SQLite journal is sqlite:///relative.db or "
            "sqlite:////abs/path.db (three slashes, then the path)"
        )
    path = url.removeprefix("sqlite:///")
    if not path:
        raise JournalUrlError(f"journal URL {url!r} names no file")
    return path


def redact_url(url: str) -> str:
    """``url`` with any password replaced, for messages (a Redis URL may carry one)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparseable URL)"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    user = parts.username or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
