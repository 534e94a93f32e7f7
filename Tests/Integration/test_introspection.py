"""What the daemon serves matches Packaging/dbus/org.s2s.Daemon1.xml, member for member."""

import pytest

from conftest import XML_FILE
from s2sit import (
    ENDPOINT, INTROSPECTABLE, MANAGER, OBJECT_MANAGER, PEER, PROPS, ROOT, STANDARD, TRANSFER, parse_interfaces,
    random_valid_id, signature_of,
)


@pytest.fixture(scope="module")
def spec():
    return parse_interfaces(XML_FILE.read_text())


def test_spec_file_is_what_the_contract_says(spec):
    assert set(spec) == {MANAGER, ENDPOINT, TRANSFER}
    assert set(spec[MANAGER]["methods"]) == {
        "CreateEndpoint", "ListEndpoints", "GetEndpoint", "DeleteEndpoint", "Send", "ListTransfers", "Subscribe",
        "Unsubscribe", "SetLimits", "ListTransferHistory", "ClearFinished", "DiscoverNAT", "PreparePunch", "Punch"}
    assert set(spec[MANAGER]["signals"]) == {"TransferAdded", "TransferProgress", "TransferFinished"}
    assert set(spec[TRANSFER]["methods"]) == {"Cancel", "Pause", "Resume", "SetRateLimit"}


def compare(served: dict, spec: dict, expected_custom: set, expected_standard: set):
    assert set(served) == expected_custom | expected_standard, f"interfaces served: {sorted(served)}"
    for name in sorted(expected_custom):
        want, got = spec[name], served[name]
        for kind in ("methods", "properties", "signals"):
            assert sorted(got[kind]) == sorted(want[kind]), f"{name}: {kind} differ"
            for member in want[kind]:
                assert got[kind][member] == want[kind][member], f"{name}.{member} ({kind[:-1]}) differs"
    for name in sorted(expected_standard):
        got = signature_of(served[name])
        want = STANDARD[name]
        assert got["methods"] == want["methods"], f"{name} methods"
        assert got["signals"] == want["signals"], f"{name} signals"
        assert served[name]["properties"] == {}, f"{name} has properties"


def test_root_object_matches_xml(root, spec):
    served = parse_interfaces(root.introspect(ROOT))
    compare(served, spec, {MANAGER}, {PROPS, INTROSPECTABLE, PEER, OBJECT_MANAGER})


def test_endpoint_object_matches_xml(root, spec, mkdir):
    path, _ = root.create(mkdir("inbox"))
    served = parse_interfaces(root.introspect(path))
    compare(served, spec, {ENDPOINT}, {PROPS, INTROSPECTABLE, PEER})


def test_transfer_object_matches_xml(root, spec, mkdir):
    """A send to a port where nobody listens still makes a transfer object (which fails)."""
    source = mkdir("out") / "f"
    source.write_text("x")
    path, _warnings = root.manager("Send", "assa{sv}", ([str(source)], f"{random_valid_id()}@127.0.0.1:1", {}))
    served = parse_interfaces(root.introspect(path))
    compare(served, spec, {TRANSFER}, {PROPS, INTROSPECTABLE, PEER})


def test_gdbus_introspect_agrees(root, spec, mkdir, tool, daemon):
    """gdbus parses the served XML (a second, independent parser) and sees every member."""
    path, _ = root.create(mkdir("inbox"))
    for obj, iface in ((ROOT, MANAGER), (path, ENDPOINT)):
        r = tool(["gdbus", "introspect", "--address", daemon.bus.address, "--dest", "org.s2s.Daemon1",
                  "--object-path", obj])
        assert r.rc == 0, r
        assert f"interface {iface} {{" in r.out, r
        for kind in ("methods", "properties", "signals"):
            for member in spec[iface][kind]:
                assert member in r.out, f"{iface}.{member} missing in gdbus introspect"
