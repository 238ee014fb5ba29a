"""Turn Ctrl-C / ``SIGTERM`` into a request the trainer honours at the next step boundary.

A ``KeyboardInterrupt`` raised at an arbitrary point could land between ``backward`` and
``optimizer.step`` (or inside it, with half the parameters updated), so the state saved on exit
would not be a state the run ever passed through. Instead the first signal only sets a flag; the
trainer finishes the current optimizer step, saves ``last.pt`` and returns. A second Ctrl-C raises
``KeyboardInterrupt`` at once, for a user who does not want to wait.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType


class StopRequest:
    """Context manager that records ``SIGINT``/``SIGTERM`` instead of dying on them.

    Signal handlers can only be installed from the main thread; elsewhere the context is inert
    (signals keep their previous behaviour) and :attr:`requested` stays ``False``.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


def ignore_sigint_in_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: Ctrl-C reaches the whole process group, but only the main
    process should react to it (a worker dying on it would abort the clean shutdown)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
