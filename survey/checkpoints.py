"""SQLite's write-ahead log copied back into the database in the background, as
PostgreSQL's checkpointer does, instead of inside whichever commit fills it.

Left to itself SQLite checkpoints inside the commit that takes the log past 1,000
pages: measured on the benchmark's data (`make bench`, 100,000 answers), one survey
submission in about a hundred then waited ~4 ms instead of ~0.08 ms for its commit,
and those waits were over half of the average commit. Here each process that opens a
database file runs one daemon thread that checkpoints it (PASSIVE: it never waits
for, nor blocks, a reader or a writer) every `INTERVAL_SECONDS` while the log holds
pages; the app's own connections checkpoint only past `SAFETY_PAGES`, a net for a
log the thread cannot keep up with (or a process where it is not running).

`watch(engine)` installs it on an engine (SQLite files only; the app does it at
start-up); the thread starts with the first connection a process opens (so a worker
forked after start-up runs its own) and stops when the engine is disposed.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event
from sqlalchemy.engine import Engine

#: Seconds between two checks of the log.
INTERVAL_SECONDS = 0.5
#: The app's connections checkpoint themselves only past this many pages (~40 MB).
SAFETY_PAGES = 10_000

log = logging.getLogger(__name__)


class Checkpointer:
    """Checkpoints one database file from a thread of its own, on its own connection."""

    def __init__(self, path: str, interval: float = INTERVAL_SECONDS) -> None:
        self.path = path
        self.interval = interval
        self.pid = os.getpid()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: sqlite3.Connection | None = None
        self._using = threading.Lock()  # the thread's rounds and a caller's (tests)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"sqlite-checkpoints {os.path.basename(self.path)}", daemon=True
        )
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (busy, pages in the log, pages checkpointed)."""
        with self._using:
            if self._connection is None:
                self._connection = sqlite3.connect(self.path, check_same_thread=False)
            row = self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        busy, in_log, done = row
        return int(busy), int(in_log), int(done)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                if not os.path.exists(self.path):
                    break  # the database was removed (a scratch database)
                try:
                    self.checkpoint()
                except sqlite3.Error as exc:  # locked or busy: the next round tries again
                    log.debug("checkpoint of %s skipped: %s", self.path, exc)
        finally:
            with self._using:
                if self._connection is not None:
                    self._connection.close()
                    self._connection = None


_RUNNING: WeakKeyDictionary[Engine, Checkpointer] = WeakKeyDictionary()
_LOCK = threading.Lock()


def watch(engine: Engine) -> None:
    """Checkpoint `engine`'s database in the background (a SQLite file; anything else is
    left as it is)."""
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:" or "mode=memory" in path:
        return

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA wal_autocheckpoint={SAFETY_PAGES}")
        finally:
            cursor.close()
        with _LOCK:
            if running_for(engine) is not None:
                return
            checkpointer = Checkpointer(os.path.abspath(path))
            _RUNNING[engine] = checkpointer
            checkpointer.start()

    def on_dispose(_engine: Engine) -> None:
        with _LOCK:
            found = _RUNNING.pop(engine, None)
        if found is not None and found.pid == os.getpid():
            found.stop()

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "engine_disposed", on_dispose)


def running_for(engine: Engine) -> Checkpointer | None:
    """The checkpointer this process runs for `engine`, if any."""
    found = _RUNNING.get(engine)
    return found if found is not None and found.pid == os.getpid() and found.running else None


def _forget_after_fork() -> None:
    """A forked child has none of its parent's threads: it starts its own (and takes a
    new lock: the parent's may have been held by another thread at the fork)."""
    global _LOCK
    _LOCK = threading.Lock()
    _RUNNING.clear()


os.register_at_fork(after_in_child=_forget_after_fork)
