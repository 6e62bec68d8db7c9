"""Work that would block an event loop (a CGI script's run), done in a thread of its own.

For the layers with an event loop (raw_socket's selectors, asyncio_impl): they hand `done` a way back
to their loop. Nothing here touches a socket.
"""

import threading
from collections.abc import Callable
from typing import TypeVar

Result = TypeVar("Result")


def in_thread(work: Callable[[], Result], done: Callable[[Result], None]) -> None:
    """Run `work()` in a new daemon thread, then `done(result)` in that thread (it must wake the loop)."""
    threading.Thread(target=lambda: done(work()), daemon=True).start()
