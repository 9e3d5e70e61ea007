"""sync_manager: leases on shared storage, from Python (docs/python.md).

A thin layer over the public client library libsync_manager.so.0 (the C
extension sync_manager._native, which calls include/sync_manager/client.h,
admin.h and volume.h and nothing else):

    import sync_manager as sm

    with sm.lease("vmstore:web1"):          # acquired here, released on exit
        run_the_service()

    c = sm.Client()                         # one registered connection
    c.acquire("vmstore:web1", mode="SH")
    print(c.inquire())                      # [Lease(lockspace='vmstore', ...)]

Contract:
  - Every failure of a call raises an Error subclass chosen by the error's
    class (sm_error_class(): RefusedError, RetryError, StateError, UsageError,
    FaultError, LostError, CancelledError), carrying .code (the negative
    return value: -errno or an SM_E* code), .name ("SM_EHELD", "EIO"),
    .error_class ("refused"...), .message (the daemon's explanation, else the
    library's message for the code) and .owner (the holder's host id for
    refusals, else 0).  Callers decide by class, as errors.h recommends.
  - The leases of a registered Client live as long as its connection: close()
    (or the process ending) releases them.
  - init_volume() and dump_volume() format and read a lease volume directly
    on the storage (sm_volume_init / sm_volume_dump of volume.h; no daemon),
    as `sync_manager init` and `dump --json` do; their errors are Error
    subclasses too, with the library's explanation as .message.
"""

import collections
import os
import sys
import threading

from . import _native
from ._native import *  # noqa: F401,F403  (SM_E* codes and flag constants)

__all__ = [
    "Error", "RefusedError", "RetryError", "StateError", "UsageError", "FaultError", "LostError",
    "CancelledError", "Lease", "Resource", "Client", "lease", "default_client", "version",
    "strerror", "errname", "error_class", "init_volume", "dump_volume",
]

version = _native.version
strerror = _native.strerror
errname = _native.errname
error_class = _native.error_class


# ---- errors ------------------------------------------------------------------

class Error(OSError):
    """A failed sync_manager call: .code, .name, .error_class, .message, .owner."""

    def __init__(self, code, message, owner=0):
        super().__init__(code, message)
        self.code = code
        self.name = _native.errname(code)
        self.error_class = _native.error_class(code)
        self.message = message
        self.owner = owner

    def __str__(self):
        held = f" (held by host {self.owner})" if self.owner else ""
        return f"{self.name}: {self.message}{held}"


class RefusedError(Error):
    """Another live (or not yet known) host or client holds it: waiting may help."""


class RetryError(Error):
    """A transient race or hiccup: trying again as is may succeed."""


class StateError(Error):
    """The object is not in the state the call needs: retrying as is will not help."""


class UsageError(Error):
    """Bad argument, name, configuration or permission: fix the request."""


class FaultError(Error):
    """Storage, system or daemon failure (no daemon, I/O error or timeout...)."""


class LostError(Error):
    """This host lost its standing: its leases must be given up."""


class CancelledError(Error):
    """The operation was interrupted on request."""


_BY_CLASS = {
    "refused": RefusedError, "retry": RetryError, "state": StateError, "usage": UsageError,
    "fault": FaultError, "lost": LostError, "cancelled": CancelledError,
}


def _make_error(code, message, owner):
    return _BY_CLASS.get(_native.error_class(code), Error)(code, message, owner)


_native.set_error_factory(_make_error)


# ---- values ------------------------------------------------------------------

Lease = collections.namedtuple("Lease", "lockspace name lver mode")
Lease.__doc__ = "A held lease: lockspace, name, lease version (lver), mode ('EX' or 'SH')."

_MODES = {"EX": _native.EXCLUSIVE, "SH": _native.SHARED}
_MODE_NAMES = {v: k for k, v in _MODES.items()}


def _mode_value(mode):
    try:
        return _MODES[mode.upper()] if isinstance(mode, str) else _MODES[_MODE_NAMES[mode]]
    except KeyError:
        raise ValueError(f"lease mode {mode!r}: give 'EX' (exclusive) or 'SH' (shared)") from None


def _lease(t):
    return Lease(t[0], t[1], t[2], _MODE_NAMES.get(t[3], t[3]))


class Resource(collections.namedtuple("Resource", "spec mode version")):
    """A lease to ask for: spec "LOCKSPACE:NAME" or "/VOLUME/PATH[:OFFSET]:NAME",
    mode 'EX' or 'SH', version: acquire only at exactly this lease version (None: any)."""

    def __new__(cls, spec, mode="EX", version=None):
        if not isinstance(spec, str) or not spec:
            raise ValueError(f"resource {spec!r}: give LOCKSPACE:NAME or /VOLUME/PATH[:OFFSET]:NAME")
        _mode_value(mode)
        return super().__new__(cls, spec, mode.upper() if isinstance(mode, str) else _MODE_NAMES[mode], version)

    def _native(self):
        at = self.version is not None
        return (self.spec, _mode_value(self.mode), at, self.version if at else 0)


def _resources(resources, mode="EX"):
    if isinstance(resources, (str, Resource)):
        resources = [resources]
    return [(r if isinstance(r, Resource) else Resource(r, mode))._native() for r in resources]


# ---- the client --------------------------------------------------------------

class Client:
    """A connection to this host's sync_managerd.

    register=True (the default) registers the calling process: leases then
    belong to it and live while this connection is open.  register=False
    gives an admin connection (join, status, hosts, acquire for another pid...).
    The daemon registers a process once: one registered Client per process
    at a time (a second is refused with SM_EBUSY); admin connections may be many.
    """

    def __init__(self, name=None, register=True, inherit=False):
        self._conn = _native.Conn()
        self.registered = False
        if register:
            flags = _native.REGISTER_INHERIT if inherit else 0
            self._conn.register(name or _default_name(), flags)
            self.registered = True

    # lifetime
    def close(self):
        """Close the connection; a registered one releases the process's leases."""
        self._conn.close()

    @property
    def closed(self):
        return self._conn.closed

    def fileno(self):
        return self._conn.fileno()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # leases
    def acquire(self, resources, mode="EX", pid=0, create=False):
        """Acquire one or more resources (all or none); returns [Lease]."""
        flags = _native.ACQUIRE_CREATE if create else 0
        return [_lease(t) for t in self._conn.acquire(_resources(resources, mode), pid, flags)]

    def release(self, resources=None, pid=0):
        """Release the given resources, or every lease of pid when None."""
        self._conn.release([] if resources is None else _resources(resources), pid)

    def release_handoff(self, pid):
        self._conn.release_handoff(pid)

    def receive(self, resource, wait_s=0.0, pid=0):
        """Take over a lease that its owner hands over (waits up to wait_s)."""
        return _lease(self._conn.receive(_resources(resource)[0], int(wait_s * 1000), pid))

    def inquire(self, pid=0):
        return [_lease(t) for t in self._conn.inquire(pid)]

    def convert(self, resource, mode, pid=0):
        """Change the mode of a held lease to 'EX' or 'SH'."""
        self._conn.convert(_resources(resource)[0], _mode_value(mode), pid)

    def set_kill(self, pid=0, signal=0, path=None, args=()):
        """What the daemon does to pid when its leases cannot be kept."""
        self._conn.set_kill(pid, signal, path, list(args))

    def register_pid(self, pid, name):
        self._conn.register_pid(pid, name)

    def lease(self, resources, mode="EX", create=False):
        """Context manager: acquire on entry (yielding [Lease]), release on exit."""
        return _LeaseContext(self, resources, mode, create)

    # lockspaces and administration
    def join(self, location, host_id=0, host_name=None, wait=True):
        self._conn.join(location, host_id, host_name, _native.JOIN_WAIT if wait else 0)

    def leave(self, lockspace, force=False):
        self._conn.leave(lockspace, force)

    def request(self, resource, handoff=False):
        """Ask a lease's owner to release it (or hand it to this host)."""
        kind = _native.REQUEST_HANDOFF if handoff else _native.REQUEST_RELEASE
        self._conn.request(_resources(resource)[0], kind)

    def status(self):
        """{section: [record dict]}: the daemon, lockspaces, clients, leases."""
        return self._conn.status()

    def hosts(self, lockspace):
        return self._conn.hosts(lockspace)

    def renewals(self, lockspace):
        return self._conn.renewals(lockspace)

    def resource_create(self, lockspace, name):
        self._conn.resource_create(lockspace, name)

    def resource_delete(self, lockspace, name):
        self._conn.resource_delete(lockspace, name)

    def metrics(self):
        return self._conn.metrics()

    def shutdown(self, force=False, keep=False):
        flags = (_native.SHUTDOWN_FORCE if force else 0) | (_native.SHUTDOWN_KEEP if keep else 0)
        self._conn.shutdown(flags)


class _LeaseContext:
    def __init__(self, client, resources, mode, create):
        self._client = client
        self._resources = _resources(resources, mode)
        self._create = create

    def __enter__(self):
        flags = _native.ACQUIRE_CREATE if self._create else 0
        return [_lease(t) for t in self._client._conn.acquire(self._resources, 0, flags)]

    def __exit__(self, *exc):
        if not self._client.closed:
            self._client._conn.release(self._resources, 0)
        return False


def _default_name():
    return os.path.basename(sys.argv[0] or "python3")[:63] or "python3"


_default = None
_default_lock = threading.Lock()


def default_client():
    """The process's registered Client, opened on first use."""
    global _default
    with _default_lock:
        if _default is None or _default.closed:
            _default = Client()
        return _default


def lease(resources, mode="EX", create=False):
    """with sync_manager.lease("vmstore:web1"): ... on the process's default Client."""
    return default_client().lease(resources, mode, create)


# ---- volumes (no daemon) -----------------------------------------------------

_LEASE_IO = {"paxos": _native.VOLUME_LEASE_IO_PAXOS, "caw": _native.VOLUME_LEASE_IO_CAW,
             "auto": _native.VOLUME_LEASE_IO_AUTO}


def _u32(what, value):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2 ** 32:
        raise ValueError(f"{what} {value!r}: give a whole number from 0 (the default)")
    return value


def _ms(what, seconds):
    if seconds is None:
        return 0
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < 2 ** 32 / 1000:
        raise ValueError(f"{what} {seconds!r}: give seconds (decimals allowed), or None for the default")
    return max(1, round(seconds * 1000))


def init_volume(location, lockspace, *, max_hosts=0, sector_size=0, io_timeout=None, watchdog_timeout=None,
                resources=0, resource_names=(), lease_io="paxos", force=False, caw_trust_target=False):
    """Format a lease volume at location "PATH[:OFFSET]" (a file is created or
    grown) for lockspace, like `sync_manager init`; returns dump_volume(location).

    0 / None mean the defaults: 128 hosts, the device's sector size, io_timeout
    10 s, watchdog_timeout 60 s (both in seconds), 1024 resource areas.
    resource_names are created in areas 0, 1, ...  lease_io: 'paxos' (Disk
    Paxos, any storage), 'caw' (SCSI COMPARE AND WRITE; refused when the
    device cannot: a regular file never can) or 'auto' (caw when the device
    can).  force overwrites a volume already there, only when no host holds a
    record of its lockspace (else RefusedError; `sync_manager init --force`
    watches live hosts out).  Volume sets and fencing by reservation: CLI only.
    """
    if lease_io not in _LEASE_IO:
        raise ValueError(f"lease_io {lease_io!r}: give 'paxos', 'caw' or 'auto'")
    if isinstance(resource_names, str):
        resource_names = [resource_names]
    flags = (_native.VOLUME_INIT_FORCE if force else 0) | \
        (_native.VOLUME_INIT_CAW_TRUST_TARGET if caw_trust_target else 0)
    _native.volume_init(location, lockspace, _u32("max_hosts", max_hosts), _u32("sector_size", sector_size),
                        _ms("io_timeout", io_timeout), _ms("watchdog_timeout", watchdog_timeout),
                        _u32("resources", resources), _LEASE_IO[lease_io], flags, list(resource_names))
    return dump_volume(location)


def dump_volume(location):
    """Everything in the volume at location, read once, as {section: [record
    dict]}: 'header' (one record), 'hosts', 'resources', 'shared_holders',
    'fence_devices'; keys as in `sync_manager dump --json` (volume.h lists them)."""
    return _native.volume_dump(location)
