"""How many CPU cores this process may use: its affinity, and its cgroup's CPU limit.

A container's CPU limit (``docker run --cpus 1``, a Kubernetes ``limits.cpu``, a systemd
``CPUQuota=``) is a cgroup CPU bandwidth limit, not an affinity: ``os.sched_getaffinity``
still lists every core of the host. A crawl sizing its check shards and page workers by
the host's 64 cores inside a one-core container would start 64 shard processes that share
one core's time, each with its own start-up and memory. :func:`available_cores` is the
smaller of the affinity and the limit, rounded up (1.5 cores of time: 2 processes), as the
JVM and Go (1.25) size their thread pools.

Both cgroup versions are read as the kernel publishes them: the cgroup of this process
from ``/proc/self/cgroup``, where its hierarchy is mounted from ``/proc/self/mountinfo``,
then the limit of that cgroup and of each parent up to the mount (the smallest applies):
``cpu.max`` (v2: ``"max 100000"`` or ``"50000 100000"``), ``cpu.cfs_quota_us`` and
``cpu.cfs_period_us`` (v1, ``-1``: none). Anything unreadable counts as no limit.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path


def available_cores(proc: Path = Path("/proc")) -> int:
    """The cores this process may use: its affinity, capped by its cgroup's CPU limit.

    *proc* is ``/proc`` (another root for tests: the mount points it names are used as
    they are written, so a test writes them under its own directory).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
    limit = cgroup_cpu_limit(proc)
    if limit is not None:
        cores = min(cores, max(math.ceil(limit - 1e-9), 1))
    return cores


@functools.cache
def cgroup_cpu_limit(proc: Path = Path("/proc")) -> float | None:
    """The CPU time this process's cgroup allows, in cores (``None``: no limit, or unknown).

    Read once per process (a crawl sizes its shards and its workers from it).
    """
    try:
        memberships = (proc / "self" / "cgroup").read_text().splitlines()
        mounts = (proc / "self" / "mountinfo").read_text().splitlines()
    except OSError:
        return None
    limits = [
        limit
        for directory, v2 in _cpu_cgroup_dirs(memberships, mounts)
        if (limit := _smallest_limit(directory, v2=v2)) is not None
    ]
    return min(limits, default=None)


def _cpu_cgroup_dirs(
    memberships: list[str], mounts: list[str]
) -> list[tuple[tuple[Path, Path], bool]]:
    """(the cgroup's directory, its mount point) and whether it is v2, per CPU hierarchy."""
    v1_path = v2_path = None
    for line in memberships:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and controllers == "":
            v2_path = path
        elif "cpu" in controllers.split(","):
            v1_path = path
    found: list[tuple[tuple[Path, Path], bool]] = []
    for line in mounts:
        # id parent major:minor root mount-point options [optional...] - fstype source super
        fields, _, tail = line.partition(" - ")
        try:
            _, _, _, root, mount_point = fields.split()[:5]
            fstype, _, options = tail.split()[:3]
        except ValueError:
            continue  # not a mount line as the kernel writes them
        point = Path(mount_point)
        if fstype == "cgroup2" and v2_path is not None:
            found.append(((_inside(point, root, v2_path), point), True))
        elif fstype == "cgroup" and v1_path is not None and "cpu" in options.split(","):
            found.append(((_inside(point, root, v1_path), point), False))
    return found


def _inside(point: Path, root: str, path: str) -> Path:
    """The directory of cgroup *path* in a hierarchy mounted at *point* from its *root*."""
    if root != "/" and (path == root or path.startswith(root.rstrip("/") + "/")):
        path = path[len(root) :]
    elif root != "/":
        return point  # a container sees its own cgroup as the mount's root
    return point / path.lstrip("/")


def _smallest_limit(where: tuple[Path, Path], *, v2: bool) -> float | None:
    directory, top = where
    smallest: float | None = None
    while True:
        limit = _limit_v2(directory) if v2 else _limit_v1(directory)
        if limit is not None:
            smallest = limit if smallest is None else min(smallest, limit)
        if directory == top or top not in directory.parents:
            return smallest
        directory = directory.parent


def _limit_v2(directory: Path) -> float | None:
    try:
        quota, _, period = (directory / "cpu.max").read_text().strip().partition(" ")
        if quota == "max":
            return None
        return int(quota) / int(period or "100000")
    except (OSError, ValueError, ZeroDivisionError):
        return None


def _limit_v1(directory: Path) -> float | None:
    try:
        quota = int((directory / "cpu.cfs_quota_us").read_text())
        period = int((directory / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    if quota <= 0 or period <= 0:
        return None
    return quota / period
