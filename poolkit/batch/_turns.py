"""Turns of a local cluster's reports to run notebooks (private): the next one starts as the last one's cells end."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator


class _Slots:
    """Turns to run notebooks: at most ``count`` reports of a local cluster run cells at once.

    A local worker has a second thread, so a report waits for its turn while
    the worker's current report runs cells; it starts its first notebook as
    soon as that report's cells are done, while the other saves its notebooks,
    exports them to HTML and publishes its folder (CPU work that would
    otherwise leave a core without cells to run). A report that gives its turn
    to a waiting one starts that work once the other's kernel answers (at most
    :data:`HANDOVER_S` later): both are threads of one process, and the
    export would otherwise slow down the next notebook's start.
    """

    def __init__(self, count: int) -> None:
        self._free = threading.Semaphore(count)
        self.closed = threading.Event()
        self._lock = threading.Lock()
        self._waiting = 0
        self._handovers: list[threading.Event] = []

    def take(self) -> tuple[Callable[[], None], Callable[[], None]]:
        """Wait for a turn; return the functions that give it back and that tell the notebook has started.

        Each acts once, however often it is called. Raises ``_BatchOver`` once
        the batch is over (interrupted): no report starts then.
        """
        with self._lock:
            self._waiting += 1
        taken = False
        try:
            while self.closed.is_set() or not self._free.acquire(timeout=0.1):
                if self.closed.is_set():
                    raise _BatchOver("the batch ended before this report started")
            taken = True
        finally:
            with self._lock:
                self._waiting -= 1
                handover = self._handovers.pop(0) if self._handovers else None
            if handover is not None and not taken:
                handover.set()
        lock, held = threading.Lock(), [True]

        def give_back() -> None:
            with lock:
                if not held[0]:
                    return
                held[0] = False
                with self._lock:  # a report waits for this turn (and none is promised to it): it starts first
                    handed = threading.Event() if self._waiting > len(self._handovers) else None
                    if handed is not None:
                        self._handovers.append(handed)
                self._free.release()
            if handed is not None:
                handed.wait(HANDOVER_S)

        def started() -> None:
            if handover is not None:
                handover.set()

        return give_back, started


HANDOVER_S = 2.0
"""How long a report that gave its turn away waits for the next one's kernel before it finishes its files."""


class _BatchOver(RuntimeError):
    """The batch ended (interrupted) while a report waited for its turn."""


_SLOTS: dict[str, _Slots] = {}
"""The turns of each batch this process runs on its local cluster, by the batch's token (:func:`_run_tasks`)."""


@contextlib.contextmanager
def _notebook_turn(token: str | None) -> Iterator[None]:
    """Within the block, the report run by this thread has a turn of batch ``token`` until its cells are done.

    Nothing is waited for without a token (a worker of an existing scheduler).
    """
    if not token:
        yield
        return
    slots = _SLOTS.get(token)
    if slots is None:
        raise _BatchOver("the batch ended before this report started")
    give_back, started = slots.take()
    from poolkit.reporting._suite import when_cells_done

    try:
        with when_cells_done(give_back, started):
            yield
    finally:
        started()
        give_back()
