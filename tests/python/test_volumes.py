"""sync_manager.init_volume / dump_volume (sm_volume_init / sm_volume_dump of
include/sync_manager/volume.h): formatting and reading volumes on the storage,
without the daemon, run by tests/python/run.sh beside test_binding.py."""
import json
import os
import subprocess

import pytest

import sync_manager as sm


def small(path, lockspace="pyvol", **kw):
    args = dict(max_hosts=8, resources=4, io_timeout=1, watchdog_timeout=3)
    args.update(kw)
    return sm.init_volume(str(path), lockspace, **args)


def test_init_then_dump_gives_the_volume(tmp_path):
    v = tmp_path / "v1"
    d = small(v, resource_names=["vm-1", "vm-2"])
    assert d == sm.dump_volume(str(v))  # init returns what dump reads
    h = d["header"][0]
    assert (h["volume"], h["lockspace"], h["max_hosts"], h["resource_areas"]) == (str(v), "pyvol", 8, 4)
    assert (h["io_timeout_ms"], h["watchdog_timeout_ms"]) == (1000, 3000)
    assert (h["lease_io"], h["fencing"], h["sector_size"]) == ("paxos", "timing", 512)
    assert len(h["uuid"]) == 36 and h["created"] > 0
    assert d["hosts"] == []  # no host ever joined
    assert [(r["area"], r["name"], r["state"], r["lver"]) for r in d["resources"]] == \
        [(0, "vm-1", "free", 0), (1, "vm-2", "free", 0)]
    assert d["shared_holders"] == [] and d["fence_devices"] == []


def test_dump_uses_the_names_of_the_cli_json(volume, joined):
    """The daemon's own volume (host 1 and 2 joined, host 2 holding held2):
    every field of dump_volume() is the same key and value in dump --json."""
    d = sm.dump_volume(volume)
    out = subprocess.run(["timeout", "--foreground", "30", os.environ["SM_PY_CLI"], "dump", volume, "--json"],
                         check=True, capture_output=True, text=True).stdout
    j = json.loads(out)
    for key, value in d["header"][0].items():
        assert (j[key] if key == "volume" else j["header"][key]) == value, key
    hosts = {h["host_id"]: h for h in j["host_area"]["hosts"]}
    assert {1, 2} <= {h["host_id"] for h in d["hosts"]}
    for h in d["hosts"]:
        cli = hosts[h["host_id"]]
        for key in ("name", "machine_id", "generation", "io_timeout_ms", "state"):
            assert cli[key] == h[key], key
    by_area = {r["area"]: r for r in j["index"]["resources"]}
    assert len(d["resources"]) == len(by_area)
    for r in d["resources"]:
        cli = by_area[r["area"]]
        for key in ("name", "offset", "owner_host_id", "mode", "corrupt_dblocks"):
            assert cli[key] == r[key], key
    held = next(r for r in d["resources"] if r["name"] == "held2")
    assert held["owner_host_id"] == 2 and held["mode"] == "EX"


def test_bad_input_is_refused_with_the_right_class(tmp_path):
    v = str(tmp_path / "v2")
    with pytest.raises(sm.UsageError) as e:
        sm.init_volume(v, "bad:name")
    assert e.value.name == "SM_EBAD_NAME" and "bad:name" in e.value.message
    with pytest.raises(sm.UsageError) as e:
        small(v, max_hosts=5000)
    assert e.value.code == -sm.SM_EBAD_ARGUMENT and "max-hosts 5000 out of range" in e.value.message
    with pytest.raises(sm.UsageError) as e:
        small(v, io_timeout=0.05)
    assert "io timeout 50 ms out of range" in e.value.message
    with pytest.raises(sm.StateError) as e:
        small(v, resources=1, resource_names=["a", "b"])
    assert "2 resource names given" in e.value.message
    with pytest.raises(ValueError):
        small(v, lease_io="cas")
    with pytest.raises(ValueError):
        small(v, max_hosts=-1)
    with pytest.raises(sm.StateError) as e:  # none of those wrote a volume
        sm.dump_volume(v)
    assert e.value.name == "SM_ENOT_FORMATTED" and v in e.value.message


def test_caw_on_a_file_is_refused_saying_why(tmp_path):
    v = tmp_path / "v3"
    v.write_bytes(b"\0" * (1 << 20))
    with pytest.raises(sm.UsageError) as e:
        small(v, lease_io="caw")
    assert e.value.name == "SM_ECAW_UNSUPPORTED"
    assert f"{v} cannot do COMPARE AND WRITE (a regular file: COMPARE AND WRITE needs a SCSI block device)" \
        in e.value.message
    with pytest.raises(sm.StateError):
        sm.dump_volume(str(v))  # nothing written
    assert small(v, lease_io="auto")["header"][0]["lease_io"] == "paxos"


def test_reformatting_needs_force(tmp_path):
    v = tmp_path / "v4"
    small(v, "oldls")
    with pytest.raises(sm.StateError) as e:
        small(v, "newls")
    assert e.value.name == "SM_EALREADY_FORMATTED" and "oldls" in e.value.message
    assert small(v, "newls", force=True)["header"][0]["lockspace"] == "newls"  # no host used it


def test_force_refuses_a_lockspace_in_use(volume, joined):
    with pytest.raises(sm.RefusedError) as e:
        sm.init_volume(volume, "other", max_hosts=8, resources=4, force=True)
    assert e.value.name == "SM_EBUSY"
    assert "host_id 1" in e.value.message and "host_id 2" in e.value.message
    assert sm.dump_volume(volume)["header"][0]["lockspace"] == joined  # untouched
