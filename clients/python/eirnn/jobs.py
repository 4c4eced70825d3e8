"""What the jobs of eirnnd (runs, analyses) share in the client: waiting for one to end."""

from __future__ import annotations

import time
from typing import AbstractSet, Any, Callable, Dict, Optional

from .errors import EirnnTimeoutError

__all__ = ["FINAL_STATUSES", "wait_for_end"]

#: Statuses after which a job (run or analysis) never changes again.
FINAL_STATUSES = frozenset({"succeeded", "failed", "diverged", "cancelled"})


def wait_for_end(
    get: Callable[[Optional[float]], Dict[str, Any]],
    timeout: Optional[float],
    poll: Optional[float],
    progress: Optional[Callable[[Dict[str, Any]], None]],
    final: AbstractSet[str] = FINAL_STATUSES,
) -> Dict[str, Any]:
    """Long-poll a job until it has ended and return its final document.

    Args:
        get: fetches the job's document, long-polling up to the given seconds (None: at once).
        timeout: give up after this many seconds (None: wait forever).
        poll: seconds per long poll (None: 30, or 1 with @progress).
        progress: called with the document after each poll that did not end the job.
        final: the statuses that end it (a sweep ends "finished").

    Raises:
        ValueError: @poll is not > 0.
        EirnnTimeoutError: @timeout passed first; its ``run`` is the last document seen.
    """
    if poll is None:
        poll = 1.0 if progress is not None else 30.0
    if poll <= 0:
        raise ValueError("poll must be > 0")
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        w = poll
        if deadline is not None:
            w = min(w, max(0.0, deadline - time.monotonic()))
        t0 = time.monotonic()
        last = get(w if w > 0 else None)
        if last.get("status") in final:
            return last
        if progress is not None:
            progress(last)
        if deadline is not None and time.monotonic() >= deadline:
            raise EirnnTimeoutError(last, float(timeout or 0))
        if time.monotonic() - t0 < min(0.05, w):
            # Answered at once though not ended (the daemon is stopping, or a server
            # without long polls): do not spin.
            time.sleep(min(0.25, w))
