"""The cores a crawl may use: affinity and the cgroup CPU limit (``brokenlinks.ops.cores``).

The /proc and /sys files are written as the kernel writes them for the usual setups: a
host (cgroup v1, systemd), a Docker container without a cgroup namespace (v1, the
container's directory mounted as the hierarchy's root), a container with one (v2, what
Docker, Podman and Kubernetes do on current kernels), a Kubernetes pod whose limit sits
on the pod's directory above the container's. Then a real cgroup of this machine, when
this process may make one (root, a writable CPU controller).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from brokenlinks.cluster.local import shards_for
from brokenlinks.ops.cores import available_cores, cgroup_cpu_limit

from .conftest import PROJECT

AFFINITY = len(os.sched_getaffinity(0))


def _proc(tmp_path: Path, cgroup: str, mountinfo: str) -> Path:
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "cgroup").write_text(cgroup)
    (proc / "self" / "mountinfo").write_text(mountinfo.replace("ROOT", str(tmp_path)))
    return proc


def _write(directory: Path, **files: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name.replace("_", ".", 1)).write_text(text + "\n")


V1_CGROUP = "12:cpu,cpuacct:{path}\n11:memory:{path}\n1:name=systemd:{path}\n0::{path}\n"
V1_MOUNTS = (
    "25 30 0:23 / ROOT/sys/fs/cgroup rw,nosuid - tmpfs tmpfs ro,mode=755\n"
    "33 25 0:29 {root} ROOT/sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:10 - cgroup cgroup "
    "rw,cpu,cpuacct\n"
    "34 25 0:30 {root} ROOT/sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n"
)
V2_MOUNTS = "26 30 0:24 {root} ROOT/sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"


def test_a_host_without_a_limit_has_its_affinity(tmp_path):
    path = "/user.slice/user-1000.slice/session-2.scope"
    proc = _proc(tmp_path, V1_CGROUP.format(path=path), V1_MOUNTS.format(root="/"))
    _write(
        tmp_path / "sys/fs/cgroup/cpu,cpuacct" / path.lstrip("/"),
        cpu_cfs_quota_us="-1",
        cpu_cfs_period_us="100000",
    )
    assert cgroup_cpu_limit(proc) is None
    assert available_cores(proc) == AFFINITY


def test_a_systemd_unit_quota_on_a_v1_host(tmp_path):
    path = "/system.slice/scrapyd.service"
    proc = _proc(tmp_path, V1_CGROUP.format(path=path), V1_MOUNTS.format(root="/"))
    _write(
        tmp_path / "sys/fs/cgroup/cpu,cpuacct/system.slice/scrapyd.service",
        cpu_cfs_quota_us="50000",
        cpu_cfs_period_us="100000",
    )
    assert cgroup_cpu_limit(proc) == 0.5
    assert available_cores(proc) == 1  # half a core of time: one process


def test_a_docker_container_on_cgroup_v1(tmp_path):
    """No cgroup namespace: /proc/self/cgroup names the host's path, mounted as the root."""
    path = "/docker/3f1c2a"
    proc = _proc(tmp_path, V1_CGROUP.format(path=path), V1_MOUNTS.format(root=path))
    _write(
        tmp_path / "sys/fs/cgroup/cpu,cpuacct",
        cpu_cfs_quota_us="150000",
        cpu_cfs_period_us="100000",
    )
    assert cgroup_cpu_limit(proc) == 1.5
    assert available_cores(proc) == min(AFFINITY, 2)


def test_a_container_with_a_cgroup_namespace_on_v2(tmp_path):
    proc = _proc(tmp_path, "0::/\n", V2_MOUNTS.format(root="/"))
    _write(tmp_path / "sys/fs/cgroup", cpu_max="100000 100000")
    assert cgroup_cpu_limit(proc) == 1.0
    assert available_cores(proc) == 1


def test_a_pod_limit_above_the_container_counts(tmp_path):
    pod = "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12.slice"
    path = f"/{pod}/cri-containerd-9a.scope"
    proc = _proc(tmp_path, f"0::{path}\n", V2_MOUNTS.format(root="/"))
    _write(tmp_path / "sys/fs/cgroup" / pod, cpu_max="25000 100000")
    _write(tmp_path / "sys/fs/cgroup" / path.lstrip("/"), cpu_max="max 100000")
    assert cgroup_cpu_limit(proc) == 0.25
    assert available_cores(proc) == 1


def test_unreadable_or_odd_files_are_no_limit(tmp_path):
    proc = _proc(tmp_path, "0::/\n", V2_MOUNTS.format(root="/") + "garbage line\n")
    _write(tmp_path / "sys/fs/cgroup", cpu_max="lots 100000")
    assert cgroup_cpu_limit(proc) is None
    assert cgroup_cpu_limit(tmp_path / "nowhere") is None
    assert available_cores(tmp_path / "nowhere") == AFFINITY


def test_the_shards_follow_the_limit():
    assert shards_for(0, cores=1, crawls=1) == 1
    assert shards_for(0, cores=available_cores(), crawls=1) == available_cores()


def _cpu_cgroup_root() -> Path | None:
    for candidate in (Path("/sys/fs/cgroup/cpu"), Path("/sys/fs/cgroup/cpu,cpuacct")):
        if (candidate / "cpu.cfs_quota_us").exists():
            return candidate
    return None


@pytest.mark.e2e
def test_a_real_cgroup_limit_is_read():
    """This machine's own cgroup v1 CPU controller: a child process limited to 0.5 core."""
    root = _cpu_cgroup_root()
    if root is None or not os.access(root, os.W_OK):
        pytest.skip("no writable cgroup v1 CPU controller here")
    group = root / f"brokenlinks-test-{uuid.uuid4().hex[:8]}"
    group.mkdir()
    try:
        (group / "cpu.cfs_quota_us").write_text("50000")
        code = (
            "from brokenlinks.ops.cores import available_cores, cgroup_cpu_limit;"
            "print(available_cores(), cgroup_cpu_limit())"
        )
        enter = f'echo $$ > "{group}/cgroup.procs" && exec "$@"'
        out = subprocess.run(
            ["sh", "-c", enter, "sh", sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            cwd=PROJECT,
            timeout=60,
        ).stdout.split()
        assert out == ["1", "0.5"]
    finally:
        group.rmdir()
