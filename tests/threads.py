"""Running a test's threads side by side (races against the real database: each thread uses its own connection)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from django.db import connection, transaction


def run_side_by_side(threads: list[threading.Thread], timeout: float = 30) -> None:
    """Start every thread, then wait for each (at most `timeout` seconds apiece); a thread still running after
    that fails the test instead of hanging it."""
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    stuck = [thread.name for thread in threads if thread.is_alive()]
    assert not stuck, f"threads still running after {timeout} s: {stuck}"


def wait_until_another_waits_for_a_lock(timeout: float = 10) -> None:
    """Until another connection of this test database waits for a lock (a row, an advisory lock or a transaction
    it must outlast): the moment a race test lets the transaction it holds commit."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # inside a transaction the view is read once
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'")
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("no connection waited for a lock")


def while_a_transaction_holds(holding: Callable[[], None], *, release: Callable[[], None],
                              meanwhile: Callable[[], None]) -> list[Exception]:
    """Race `meanwhile` against an open transaction: one thread runs `holding` in a transaction and keeps it open
    until `release` returns; another runs `meanwhile` once `holding` is done (or failed). Each thread has its own
    connection. The errors either raised, for the test to assert none."""
    holds, errors = threading.Event(), []

    def first() -> None:
        try:
            with transaction.atomic():
                holding()
                holds.set()
                release()
        except Exception as error:  # reported to the test
            errors.append(error)
        finally:
            holds.set()
            connection.close()

    def second() -> None:
        try:
            holds.wait(timeout=10)
            meanwhile()
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    run_side_by_side([threading.Thread(target=first), threading.Thread(target=second)])
    return errors
