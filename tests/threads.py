"""Running a test's threads side by side (races against the real database: each thread uses its own connection)."""

from __future__ import annotations

import threading


def run_side_by_side(threads: list[threading.Thread], timeout: float = 30) -> None:
    """Start every thread, then wait for each (at most `timeout` seconds apiece); a thread still running after
    that fails the test instead of hanging it."""
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    stuck = [thread.name for thread in threads if thread.is_alive()]
    assert not stuck, f"threads still running after {timeout} s: {stuck}"
