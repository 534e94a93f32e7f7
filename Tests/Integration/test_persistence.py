"""Endpoints survive a restart (SIGTERM) and a crash (SIGKILL) of s2sd."""

import os
import signal
import stat

from s2sit import ENDPOINT, ERR_NOT_FOUND, MANAGER, ROOT


def snapshot(client):
    """{id: properties} of every endpoint the client sees (by ID: the object path may change)."""
    listed = client.list_endpoints()
    out = {}
    for path, props in listed.items():
        assert client.get_all(path, ENDPOINT) == props
        assert client.get_endpoint(props["Id"]) == path
        out[props["Id"]] = props
    return out


def populate(connect, user_a, mkdir):
    root = connect()
    a = connect(user_a)
    ids = [
        root.create(mkdir("r1"))[1],
        root.create(mkdir("r2"), Quota=5 << 30, Lifetime=7 * 86400, MaxUses=3)[1],
        a.create(mkdir("a1", user_a), MaxUses=1)[1],
        a.create(mkdir("a2", user_a), Quota=1)[1],
    ]
    return root, a, ids


def test_state_directory_is_private(daemon_factory, connect, tmp_path, mkdir):
    """docs/configuration.md: the state directory is created 0700 (group and other permissions
    taken away if found), the database is 0600."""
    missing = tmp_path / "new" / "state"
    d1 = daemon_factory(state_dir=missing)
    connect().create(mkdir("inbox"))
    assert stat.S_IMODE(os.stat(missing).st_mode) == 0o700
    db = missing / "s2s.sqlite"
    assert db.is_file()
    for f in missing.iterdir():
        assert stat.S_IMODE(os.stat(f).st_mode) & 0o077 == 0, f"{f} is readable by others"
    assert d1.stop() == 0
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)
    daemon_factory(state_dir=loose)
    assert stat.S_IMODE(os.stat(loose).st_mode) == 0o700


def test_survives_sigterm_restart(daemon, connect, user_a, mkdir):
    root, a, ids = populate(connect, user_a, mkdir)
    before_root, before_a = snapshot(root), snapshot(a)
    assert len(before_root) == 4 and len(before_a) == 2
    root.close(), a.close()
    assert daemon.stop(signal.SIGTERM) == 0, daemon.log()
    daemon.start()
    root, a = connect(), connect(user_a)
    assert snapshot(root) == before_root
    assert snapshot(a) == before_a
    # A second restart, and the endpoints still work.
    root.close(), a.close()
    daemon.restart()
    root = connect()
    assert snapshot(root) == before_root
    root.delete(ids[0])
    assert len(root.list_endpoints()) == 3


def test_survives_kill_9(daemon, connect, user_a, mkdir):
    root, a, ids = populate(connect, user_a, mkdir)
    root.delete(ids[1])          # a deletion just before the crash must stick
    late_path, late_id = a.create(mkdir("a3", user_a))  # and so must a creation
    before_root, before_a = snapshot(root), snapshot(a)
    assert len(before_root) == 4 and late_id in before_a
    root.close(), a.close()
    daemon.kill9()
    daemon.start()
    root, a = connect(), connect(user_a)
    assert snapshot(root) == before_root
    assert snapshot(a) == before_a
    assert root.error_of(ROOT, MANAGER, "GetEndpoint", "s", (ids[1],)) == ERR_NOT_FOUND
    # The restarted daemon keeps working: create, then crash again straight away.
    _, new_id = root.create(mkdir("r3"))
    root.close(), a.close()
    daemon.kill9()
    daemon.start()
    root = connect()
    after = snapshot(root)
    assert set(after) == set(before_root) | {new_id}
