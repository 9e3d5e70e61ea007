"""The sync_manager Python module against a real sync_managerd (tests/python/run.sh).

Each test checks one behaviour of the binding: values the daemon returns,
errors with the project's code, name, class and message, and leases that
context managers and closed connections give back."""
import os
import subprocess
import time

import pytest

import sync_manager as sm


def held_names(leases):
    return sorted(l.name for l in leases)


# ---- module and errors (no daemon needed) ------------------------------------

def test_version_is_the_headers():
    assert sm.version() == sm.HEADER_VERSION
    assert sm.version().count(".") == 2


def test_every_project_code_has_its_name_and_class():
    codes = {n: getattr(sm, n) for n in dir(sm) if n.startswith("SM_E")}
    assert len(codes) >= 40
    for name, code in codes.items():  # positive, as in C: calls return -SM_E...
        assert sm.errname(-code) == name
        assert sm.error_class(-code) in ("refused", "retry", "state", "usage", "fault", "lost", "cancelled")
    assert sm.error_class(-sm.SM_EHELD) == "refused"
    assert "held by another live host" in sm.strerror(-sm.SM_EHELD)
    assert sm.errname(-5) == "EIO" and sm.error_class(-5) == "fault"


def test_no_daemon_raises_fault_with_the_code(monkeypatch, tmp_path):
    monkeypatch.setenv("SYNC_MANAGER_RUN_DIR", str(tmp_path))
    with pytest.raises(sm.FaultError) as e:
        sm.Client()
    assert e.value.code == -sm.SM_ENO_DAEMON
    assert e.value.name == "SM_ENO_DAEMON"
    assert e.value.error_class == "fault"
    assert "not running" in e.value.message
    assert isinstance(e.value, sm.Error) and isinstance(e.value, OSError)


def test_a_malformed_resource_is_a_usage_error(client):
    with pytest.raises(sm.UsageError) as e:
        client.acquire("no-colon-here")
    assert e.value.code < 0 and e.value.name.startswith("SM_E")
    assert "no-colon-here" in e.value.message
    with pytest.raises(ValueError):
        sm.Resource("pyls:r1", mode="XX")


# ---- lockspaces and listings -------------------------------------------------

def test_status_lists_the_joined_lockspace(admin, joined):
    st = admin.status()
    assert isinstance(st, dict) and st
    names = [rec.get("name") for recs in st.values() for rec in recs]
    assert joined in names, st


def test_hosts_shows_both_hosts(admin, joined):
    rep = admin.hosts(joined)
    ids = sorted(rec["host_id"] for recs in rep.values() for rec in recs if "host_id" in rec)
    assert 1 in ids and 2 in ids, rep


def test_renewals_are_listed(admin, joined):
    rep = admin.renewals(joined)
    assert any(recs for recs in rep.values()), rep


def test_joining_an_unknown_lockspace_name_is_a_state_error(admin):
    with pytest.raises(sm.StateError) as e:
        admin.join("no_such_lockspace")
    assert e.value.name == "SM_ENO_LOCKSPACE"


def test_metrics_are_prometheus_text(admin, joined):
    text = admin.metrics()
    assert "# TYPE sync_manager" in text or "# HELP sync_manager" in text


# ---- leases ------------------------------------------------------------------

def test_acquire_inquire_release(client, joined):
    got = client.acquire(f"{joined}:r1")
    assert len(got) == 1
    lease = got[0]
    assert (lease.lockspace, lease.name, lease.mode) == (joined, "r1", "EX") and lease.lver > 0
    assert client.inquire() == got
    client.release(f"{joined}:r1")
    assert client.inquire() == []


def test_the_lease_version_grows_with_each_acquire(client, joined):
    first = client.acquire(f"{joined}:r2")[0].lver
    client.release()
    second = client.acquire(f"{joined}:r2")[0].lver
    assert second > first
    client.release()
    with pytest.raises(sm.StateError) as e:
        client.acquire(sm.Resource(f"{joined}:r2", version=first))
    assert e.value.name == "SM_ELVER_MISMATCH"


def test_several_at_once_and_shared_mode(client, joined):
    got = client.acquire([f"{joined}:r3", f"{joined}:r4"], mode="SH")
    assert held_names(got) == ["r3", "r4"] and {l.mode for l in got} == {"SH"}
    client.convert(f"{joined}:r3", "EX")
    modes = {l.name: l.mode for l in client.inquire()}
    assert modes == {"r3": "EX", "r4": "SH"}
    client.release()  # every lease
    assert client.inquire() == []


def test_lease_context_manager_releases_on_exit_and_on_error(client, joined):
    with client.lease(f"{joined}:r5") as leases:
        assert held_names(leases) == ["r5"]
        assert held_names(client.inquire()) == ["r5"]
    assert client.inquire() == []
    with pytest.raises(KeyError):
        with client.lease(f"{joined}:r5"):
            raise KeyError("the body failed")
    assert client.inquire() == []


def test_module_lease_uses_the_default_client(joined):
    with sm.lease(f"{joined}:r6") as leases:
        assert leases[0].name == "r6"
        assert held_names(sm.default_client().inquire()) == ["r6"]
    assert sm.default_client().inquire() == []
    sm.default_client().close()


def test_another_process_here_is_refused(client, joined):
    client.acquire(f"{joined}:r1")
    child = subprocess.Popen(["sleep", "60"])
    try:
        admin = sm.Client(register=False)  # a connection registers one process
        admin.register_pid(child.pid, "child")
        with pytest.raises(sm.RefusedError) as e:
            admin.acquire(f"{joined}:r1", pid=child.pid)
        assert e.value.error_class == "refused" and e.value.code < 0
        assert e.value.message
        admin.close()
    finally:
        child.kill()
        child.wait()


def test_one_registration_per_process(client):
    with pytest.raises(sm.RefusedError) as e:
        sm.Client("second")
    assert e.value.name == "SM_EBUSY"
    assert "already registered" in e.value.message


def test_a_lease_of_another_host_is_refused_naming_it(client, joined):
    deadline = time.monotonic() + 30
    while True:
        with pytest.raises(sm.RefusedError) as e:
            client.acquire(f"{joined}:held2")
        if e.value.name == "SM_EHELD" or time.monotonic() > deadline:
            break
        assert e.value.name == "SM_EUNKNOWN_HOST"  # host 2 not observed long enough yet
        time.sleep(0.5)
    assert e.value.name == "SM_EHELD"
    assert e.value.owner == 2
    assert "host 2" in str(e.value)


def test_closing_a_client_releases_its_leases(joined):
    c = sm.Client("short-lived")
    c.acquire(f"{joined}:r2")
    c.close()
    assert c.closed
    with pytest.raises(ValueError):
        c.inquire()
    with sm.Client("next") as n:
        assert n.acquire(f"{joined}:r2")[0].name == "r2"


def test_release_of_what_is_not_held_is_an_error(client, joined):
    with pytest.raises(sm.Error) as e:
        client.release(f"{joined}:r3")
    assert e.value.code < 0 and e.value.message


def test_leases_for_another_process(joined):
    child = subprocess.Popen(["sleep", "60"])
    admin = sm.Client(register=False)  # a connection registers one process
    try:
        admin.register_pid(child.pid, "child")
        got = admin.acquire(f"{joined}:r4", pid=child.pid)
        assert got[0].name == "r4"
        assert held_names(admin.inquire(pid=child.pid)) == ["r4"]
        admin.release(pid=child.pid)
        assert admin.inquire(pid=child.pid) == []
    finally:
        admin.close()
        child.kill()
        child.wait()


def test_resources_created_and_deleted(client, admin, joined):
    admin.resource_create(joined, "pynew")
    with pytest.raises(sm.StateError) as e:
        admin.resource_create(joined, "pynew")
    assert e.value.name == "SM_ERESOURCE_EXISTS"
    with client.lease(f"{joined}:pynew"):
        pass
    admin.resource_delete(joined, "pynew")
    with pytest.raises(sm.StateError) as e:
        client.acquire(f"{joined}:pynew")
    assert e.value.name == "SM_ENO_RESOURCE"
    got = client.acquire(f"{joined}:pycreated", create=True)
    assert got[0].name == "pycreated"


def test_request_asks_the_owner(client, joined):
    client.request(f"{joined}:held2")
    with pytest.raises(sm.StateError) as e:
        client.request(f"{joined}:not_there")
    assert e.value.name == "SM_ENO_RESOURCE"
