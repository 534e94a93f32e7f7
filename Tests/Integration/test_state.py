"""State is never lost silently (issue 19, finding 5): a state directory whose database vanished,
was emptied or is damaged is an error at start, not an empty daemon; --new-state starts afresh
and keeps the old files beside; backups hold the endpoints' keys; one unreadable endpoint row
disables that endpoint only."""

import os
import sqlite3
import time

DB = "s2s.sqlite"


def endpoints_then_stop(daemon, connect, mkdir, count=3):
    c = connect()
    ids = [c.create(mkdir(f"in{i}"))[1] for i in range(count)]
    c.close()
    assert daemon.stop() == 0, daemon.log()
    return ids


def refuses_to_start(daemon, *expected):
    """Starts the daemon and expects it to exit non-zero before taking its name, saying why."""
    daemon.start(wait=False)
    rc = daemon.wait_exit(30)
    assert rc not in (None, 0), f"s2sd started (rc {rc}):\n{daemon.log()}"
    log = daemon.log()
    for text in expected:
        assert text in log, f"{text!r} not in the log:\n{log[-3000:]}"
    return log


def ids_of(connect):
    c = connect()
    try:
        return {props["Id"] for props in c.list_endpoints().values()}
    finally:
        c.close()


def test_a_vanished_or_emptied_database_stops_the_start(daemon, connect, mkdir):
    ids = endpoints_then_stop(daemon, connect, mkdir)
    db = daemon.state_dir / DB
    backup = daemon.state_dir / "backups" / f"{DB}.1"
    assert backup.is_file(), "no backup was made at start"

    db.write_bytes(b"")                       # truncated to 0 bytes
    log = refuses_to_start(daemon, "is empty", "--new-state", str(backup))
    assert "every endpoint" in log

    db.unlink()                               # deleted
    for f in daemon.state_dir.glob(DB + "-*"):
        f.unlink()
    refuses_to_start(daemon, "is missing", str(backup))

    # The advice works: restoring the backup brings every endpoint and key back.
    db.write_bytes(backup.read_bytes())
    daemon.start()
    assert ids_of(connect) == set(ids)


def test_new_state_starts_afresh_and_keeps_the_old_files(daemon, connect, mkdir):
    endpoints_then_stop(daemon, connect, mkdir, count=2)
    db = daemon.state_dir / DB
    db.write_bytes(b"")
    daemon.args.append("--new-state")
    daemon.start()
    assert ids_of(connect) == set()
    assert list(daemon.state_dir.glob(DB + ".set-aside-*")), os.listdir(daemon.state_dir)
    assert "--new-state" in daemon.log()


def test_a_damaged_database_stops_the_start(daemon, connect, mkdir):
    endpoints_then_stop(daemon, connect, mkdir, count=40)
    db = daemon.state_dir / DB
    with sqlite3.connect(db) as c:   # everything into the main file, so that one page holds rows
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(db.read_bytes())
    assert len(data) >= 3 * 4096, len(data)
    # Garbage over the second page (a b-tree page start-up does not otherwise read whole).
    data[4096:8192] = bytes((i * 7 + 3) % 256 for i in range(4096))
    db.write_bytes(bytes(data))
    refuses_to_start(daemon, "damaged", "--new-state")


def test_one_unreadable_endpoint_row_disables_only_that_endpoint(daemon, connect, mkdir):
    ids = endpoints_then_stop(daemon, connect, mkdir, count=3)
    with sqlite3.connect(daemon.state_dir / DB) as db:
        db.execute("PRAGMA ignore_check_constraints = ON")
        db.execute("UPDATE endpoint SET private_key = x'0102' WHERE number = (SELECT MIN(number) FROM endpoint)")
    daemon.start()
    assert ids_of(connect) == set(ids[1:])
    assert "endpoint disabled" in daemon.log()
    # The row is still there, for recovery.
    with sqlite3.connect(daemon.state_dir / DB) as db:
        assert db.execute("SELECT COUNT(*) FROM endpoint").fetchone()[0] == 3


def test_backups_follow_new_endpoints(daemon, connect, mkdir):
    c = connect()
    c.create(mkdir("a"))
    backup = daemon.state_dir / "backups" / f"{DB}.1"

    def backed_up_keys():
        if not backup.is_file():
            return 0
        with sqlite3.connect(f"file:{backup}?mode=ro", uri=True) as db:
            return db.execute("SELECT COUNT(*) FROM endpoint").fetchone()[0]

    # The first change after start is copied at once; the copy holds the new key.
    deadline = time.monotonic() + 30
    while backed_up_keys() != 1:
        assert time.monotonic() < deadline, f"no backup holds the new endpoint:\n{daemon.log()}"
        time.sleep(0.1)
    c.close()
