"""Where synchronous tools run: daemon threads that never hold up the process's exit.

A synchronous tool cannot be interrupted: when it overruns its timeout the agent answers
the call with a timeout error and moves on, but the thread runs on until the function
returns. In asyncio's default executor that thread is joined when ``asyncio.run`` ends,
so one hung tool kept a finished program alive for as long as it hung (a tool with
``timeout=1.0`` around ``time.sleep(8)`` ended the program after 9.7 s). Here each tool
call runs in a daemon thread of its own: a hung call costs one thread
until it returns, never the exit. What a timeout means for a synchronous tool is
therefore: its result is no longer awaited (and is discarded when it comes), and a
WARNING names the tool whose thread is still busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import Callable
from typing import Any

_numbers = itertools.count(1)


def run_in_daemon_thread(func: Callable[[], Any], name: str) -> asyncio.Future[Any]:
    """``func()`` in a new daemon thread; the future completes on the calling loop.

    A thread per call: a tool call is slow next to starting a thread (tens of
    microseconds), and a thread that hangs holds nothing that another call waits for.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def work() -> None:
        try:
            result: Any = func()
        except BaseException as exc:  # handed to the awaiting task, whatever it is
            _settle(loop, future, None, exc)
        else:
            _settle(loop, future, result, None)

    thread_name = f"accord-tool-{name}-{next(_numbers)}"
    threading.Thread(target=work, name=thread_name, daemon=True).start()
    return future


def _settle(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    result: Any,
    exc: BaseException | None,
) -> None:
    def deliver() -> None:
        if future.done():
            return  # timed out or cancelled: the late result is discarded
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)

    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
        loop.call_soon_threadsafe(deliver)
