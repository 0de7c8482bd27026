"""Disk quotas, the pure parts: sizes, the API and CLI fields, project ids, records, the
kernel structures' layouts (pouch/snapshots/quota.py, quota_kernel.py, api/quota_json.py,
cli/quota_flags.py)."""

from __future__ import annotations

import ctypes

import pytest

from pouch.api.container_json import host_config
from pouch.api.convert import create_options_from_docker
from pouch.api.quota_json import disk_quota_from_docker, disk_quota_to_docker
from pouch.cli.flags import UsageError
from pouch.cli.options import build_create_body
from pouch.cli.quota_flags import quota_host_config
from pouch.errors import InvalidArgument
from pouch.models import CreateOptions
from pouch.snapshots import quota_kernel as kernel
from pouch.snapshots.quota import (
    PROJECT_ID_BASE,
    QuotaRecord,
    next_project_id,
    no_quota_message,
    parse_size,
    writable_layer_size,
)


@pytest.mark.parametrize("text, size", [
    ("10m", 10 << 20), ("10M", 10 << 20), ("10mb", 10 << 20), ("10MiB", 10 << 20), ("1g", 1 << 30),
    ("1.5k", 1536), ("4096", 4096), ("2t", 2 << 40), (" 8k ", 8192),
])
def test_sizes_are_parsed_as_docker_storage_opt_does(text, size):
    assert parse_size(text, "--disk-quota") == size


@pytest.mark.parametrize("text", ["", "abc", "10x", "-1m", "0", "0m", "i", "10i", "m"])
def test_bad_sizes_are_400s_naming_the_field(text):
    with pytest.raises(InvalidArgument, match="--disk-quota"):
        parse_size(text, "--disk-quota")


def test_writable_layer_size_from_either_field():
    assert writable_layer_size({"/": "10g"}, {}) == "10g"
    assert writable_layer_size({"": "10g"}, {}) == "10g"
    assert writable_layer_size({}, {"size": "5m"}) == "5m"
    assert writable_layer_size({}, {"Size": "5m"}) == "5m"
    assert writable_layer_size({"/": "1024m"}, {"size": "1g"}) == "1024m"  # the same limit twice
    assert writable_layer_size({}, {}) == ""


@pytest.mark.parametrize("quota, storage_opt, message", [
    ({"/data": "1g"}, {}, "only the container's writable layer"),
    ({}, {"dm.basesize": "1g"}, "unknown option 'dm.basesize'"),
    ({"/": "1g"}, {"size": "2g"}, "disagree"),
    ({"/": "lots"}, {}, "HostConfig.DiskQuota: invalid size"),
    ({}, {"size": "lots"}, "HostConfig.StorageOpt.size: invalid size"),
])
def test_writable_layer_size_refusals(quota, storage_opt, message):
    with pytest.raises(InvalidArgument, match=message):
        writable_layer_size(quota, storage_opt)


def test_create_body_fields():
    assert disk_quota_from_docker({}, {"DiskQuota": {"/": "10g"}}) == "10g"
    assert disk_quota_from_docker({}, {"DiskQuota": "/=10g"}) == "10g"
    assert disk_quota_from_docker({"DiskQuota": "10g"}, {}) == "10g"  # PouchContainer's ContainerConfig
    assert disk_quota_from_docker({}, {"StorageOpt": {"size": "10G"}}) == "10G"
    with pytest.raises(InvalidArgument, match="HostConfig.DiskQuota: expected"):
        disk_quota_from_docker({}, {"DiskQuota": 10})
    with pytest.raises(InvalidArgument, match="HostConfig.StorageOpt: expected"):
        disk_quota_from_docker({}, {"StorageOpt": ["size=1g"]})


def test_create_options_and_inspect_round_trip():
    opts = create_options_from_docker({"Image": "busybox", "HostConfig": {"StorageOpt": {"size": "10m"}}})
    assert opts.disk_quota == "10m"
    assert CreateOptions.from_dict(opts.to_dict()).disk_quota == "10m"
    shown = host_config(opts)
    assert shown["DiskQuota"] == {"/": "10m"} and shown["StorageOpt"] == {"size": "10m"}
    assert "StorageOpt" not in host_config(CreateOptions(image="busybox"))  # docker omits an empty one
    assert disk_quota_to_docker("") == {}


def test_cli_flags():
    flags = {"disk_quota": ["10g"], "storage_opt": ["size=5g"]}
    assert quota_host_config(flags.get) == {"DiskQuota": {"/": "10g"}, "StorageOpt": {"size": "5g"}}
    assert quota_host_config({"disk_quota": ["/=1g"]}.get) == {"DiskQuota": {"/": "1g"}}
    assert quota_host_config({}.get) == {}
    with pytest.raises(UsageError, match="invalid storage option: size"):
        quota_host_config({"storage_opt": ["size"]}.get)
    with pytest.raises(UsageError, match="--disk-quota"):
        quota_host_config({"disk_quota": ["/="]}.get)
    body = build_create_body({"disk_quota": ["10m"]}, "busybox", [], run=True, environ={})
    assert body["HostConfig"]["DiskQuota"] == {"/": "10m"}


def test_project_ids_start_at_the_base_and_skip_those_held():
    assert next_project_id([]) == PROJECT_ID_BASE
    assert next_project_id([PROJECT_ID_BASE, PROJECT_ID_BASE + 1, PROJECT_ID_BASE + 3]) == PROJECT_ID_BASE + 2
    assert next_project_id([5, 7]) == PROJECT_ID_BASE  # ids below the base are the administrator's
    with pytest.raises(InvalidArgument, match="no free"):
        next_project_id([2**32 - 2], base=2**32 - 2)


def test_record_round_trip():
    record = QuotaRecord("project", 100004, 10 << 20, "10m")
    assert QuotaRecord.from_json(record.to_json()) == record


def test_no_quota_messages_name_root_and_cause():
    msg = no_quota_message("/var/lib/pouch", "ext4", "not mounted with prjquota")
    assert msg.startswith("pouchd --root /var/lib/pouch is on a filesystem without project quotas (ext4: not")
    assert "mount it with prjquota" in msg
    assert "btrfs quota enable /x" in no_quota_message("/x", "btrfs", "quotas are off")
    assert "use ext4 or xfs mounted with prjquota, or btrfs" in no_quota_message("/x", "tmpfs")


def test_kernel_structures_match_the_uapi_headers():
    # the numbers the kernel headers define (linux/fs.h, linux/btrfs.h), and the struct sizes behind them
    assert kernel.FS_IOC_FSGETXATTR == 0x801C581F and kernel.FS_IOC_FSSETXATTR == 0x401C5820
    assert kernel.BTRFS_IOC_SUBVOL_CREATE == 0x5000940E
    assert kernel.BTRFS_IOC_INO_LOOKUP == 0xD0009412
    assert kernel.BTRFS_IOC_FS_INFO == 0x8400941F
    assert kernel.BTRFS_IOC_QUOTA_CTL == 0xC0109428
    assert kernel.BTRFS_IOC_QGROUP_LIMIT == 0x8030942B
    assert ctypes.sizeof(kernel.IfDqblk) == 72
    assert kernel.qcmd(kernel.Q_SETQUOTA, kernel.PRJQUOTA) == 0x80000802


def test_fs_type_of_a_real_path():
    assert kernel.fs_name(kernel.fs_type("/proc")) == "filesystem type 0x9fa0"
    assert kernel.fs_name(kernel.EXT4_SUPER_MAGIC) == "ext4"
