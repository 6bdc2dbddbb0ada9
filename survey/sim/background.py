"""A trio service run in a background thread for the length of a ``with`` block.

Tests, the demo and the benchmarks drive the scanner from the caller's thread (often in a child
process) while the test internet, its hostile servers or a test's resolver proxy serve from a
thread of their own; this is the one place that starts, hands over and tears down such a loop.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import trio


@contextlib.contextmanager
def in_background(start: Callable[..., Awaitable[Any]], *, name: str) -> Iterator[Any]:
    """``await nursery.start(start)`` in a new thread's trio loop; yields what it started with.

    On exit the loop is cancelled and the thread joined: every listener is closed before this
    returns. An error while starting, or one that ended the loop early, is raised here, in the
    caller's thread.
    """
    started: queue.Queue[tuple[bool, Any]] = queue.Queue()
    control: dict[str, Any] = {}

    async def main() -> None:
        control["token"] = trio.lowlevel.current_trio_token()
        with trio.CancelScope() as scope:
            control["scope"] = scope
            async with trio.open_nursery() as nursery:
                started.put((True, await nursery.start(start)))

    def thread_main() -> None:
        try:
            trio.run(main)
        except BaseException as exc:  # handed to the caller's thread
            control["error"] = exc
            started.put((False, exc))

    thread = threading.Thread(target=thread_main, name=name, daemon=True)
    thread.start()
    ok, first = started.get()
    if not ok:
        thread.join()
        raise unwrap(first)
    try:
        yield first
    finally:
        with contextlib.suppress(trio.RunFinishedError):
            trio.from_thread.run_sync(control["scope"].cancel, trio_token=control["token"])
        thread.join()
    if "error" in control:
        raise unwrap(control["error"])


def unwrap(exc: BaseException) -> BaseException:
    """The one error inside nested single-member exception groups (trio's strict groups)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
