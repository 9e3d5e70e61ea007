"""Fixtures for the binding's tests (run by tests/python/run.sh inside an
emulated host whose daemon runs with SYNC_MANAGER_RUN_DIR set)."""
import os

import pytest

import sync_manager as sm


@pytest.fixture(scope="session")
def volume():
    return os.environ["SM_PY_VOLUME"]


@pytest.fixture(scope="session")
def lockspace():
    return os.environ["SM_PY_LOCKSPACE"]


@pytest.fixture(scope="session")
def admin():
    """An unregistered connection (joins, listings, leases for other pids)."""
    c = sm.Client(register=False)
    yield c
    c.close()


@pytest.fixture(scope="session")
def joined(admin, volume, lockspace):
    """This host has joined the test lockspace as host 1 (once per session)."""
    admin.join(volume, host_id=1)
    return lockspace


@pytest.fixture
def client(joined):
    """A registered connection of this process, closed after the test."""
    with sm.Client("pytest") as c:
        yield c
