"""The app's SQLite connections: WAL, foreign keys, a busy timeout and reads through a
memory map (survey.db); the write-ahead log left to a background thread
(survey.checkpoints), one per process and database, which copies it back without
blocking anyone, stops with its engine and is started anew in a forked worker."""

from __future__ import annotations

import os

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from survey.checkpoints import SAFETY_PAGES, running_for, watch
from survey.db import SQLITE_BUSY_TIMEOUT_MS, SQLITE_MMAP_BYTES, db
from survey.registry.staff import add_staff


def _sqlite_only(app: Flask) -> None:
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite's log; PostgreSQL checkpoints on its own")


def test_the_log_is_checkpointed_by_the_thread_not_by_commits(app: Flask) -> None:
    _sqlite_only(app)
    with app.app_context():
        assert db.session.execute(text("PRAGMA wal_autocheckpoint")).scalar() == SAFETY_PAGES
        checkpointer = running_for(db.engine)
        assert checkpointer is not None and checkpointer.pid == os.getpid()
        for n in range(20):
            add_staff(f"Staff {n}", "viewer")
            db.session.commit()
        busy, in_log, done = checkpointer.checkpoint()
        assert busy == 0
        assert in_log == done  # every page in the log is back in the database
        assert db.session.execute(text("SELECT count(*) FROM staff")).scalar() == 20


def test_the_thread_stops_with_its_engine(app: Flask) -> None:
    _sqlite_only(app)
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        checkpointer = running_for(db.engine)
        assert checkpointer is not None and checkpointer.running
        db.session.remove()
        db.engine.dispose()
        assert not checkpointer.running
        assert running_for(db.engine) is None
        db.session.execute(text("SELECT 1"))  # a new connection starts a new one
        again = running_for(db.engine)
        assert again is not None and again is not checkpointer


def test_a_forked_worker_runs_its_own(app: Flask) -> None:
    _sqlite_only(app)
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        parent = running_for(db.engine)
        assert parent is not None
        db.session.remove()
        pid = os.fork()
        if pid == 0:  # the child: report through the exit status only
            ok = False
            try:
                db.engine.dispose(close=False)  # the parent's connections stay the parent's
                ok = running_for(db.engine) is None
                db.session.execute(text("SELECT 1"))
                child = running_for(db.engine)
                ok = ok and child is not None and child.pid == os.getpid()
            finally:
                os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert running_for(db.engine) is parent and parent.running


def test_nothing_runs_for_memory_or_other_databases(tmp_path: object) -> None:
    memory = create_engine("sqlite://")
    watch(memory)
    with memory.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert running_for(memory) is None
    memory.dispose()


def test_sqlite_connections_are_set_up_for_the_app(app: Flask) -> None:
    """WAL, foreign keys, the busy timeout and reads through a memory map."""
    _sqlite_only(app)
    with app.app_context():
        pragma = db.session.connection().exec_driver_sql
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA foreign_keys").scalar() == 1
        assert pragma("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
        assert pragma("PRAGMA mmap_size").scalar() == SQLITE_MMAP_BYTES
