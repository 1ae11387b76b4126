#!/usr/bin/python3
"""Scale of a pool: create N replicas (default 1000) through the real daemon's gRPC API, list
them, restart the daemon (the pool is re-imported from its -P file) and list again. Prints the
seconds of each phase and the daemon's resident memory (VmRSS) before and after.

The baseline in the same run is the cost of N ListPools calls (the round trip of an RPC that
does nothing), so that "per replica" figures can be read against the gRPC overhead.

Usage: bench/replica_scale.py [N] [thin|thick]
Environment: MAYASTOR_BIN (default build/tools/mayastor/mayastor), BENCH_DIR (default /var/tmp).
Needs Debian's python3-grpcio; run with /usr/bin/python3.
"""

import os
import shutil
import sys
import tempfile
import time

root = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(root, "tests", "integration"))
os.environ.setdefault("MAYASTOR_BIN", os.path.join(root, "build", "tools", "mayastor", "mayastor"))
os.environ.setdefault("MS_SOURCE_DIR", root)

import mayastor_it as it  # noqa: E402
from mayastor_it import pb2  # noqa: E402

MiB = 1 << 20


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def timed(fn):
    t = time.monotonic()
    r = fn()
    return time.monotonic() - t, r


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    thin = (sys.argv[2] if len(sys.argv) > 2 else "thin") == "thin"
    d = tempfile.mkdtemp(prefix="ms-scale-", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
    m = pb2()
    daemon = it.Daemon(d)
    try:
        daemon.start()
        # Thick replicas of 4 MiB need one cluster each; leave room for n of them.
        disk = it.make_disk_file(os.path.join(d, "disk"), (n + 8) * 4 * MiB)
        daemon.rpc("CreatePool", m.CreatePoolRequest(name="p0", disks=[disk]))
        rss0 = rss_mib(daemon.proc.pid)

        base, _ = timed(lambda: [daemon.rpc("ListPools") for _ in range(n)])
        create, _ = timed(lambda: [
            daemon.rpc("CreateReplica", m.CreateReplicaRequest(uuid=f"replica-{i:05d}", pool="p0", size=4 * MiB,
                                                               thin=thin)) for i in range(n)])
        listing, reply = timed(lambda: daemon.rpc("ListReplicas"))
        assert len(reply.replicas) == n, f"listed {len(reply.replicas)} of {n}"
        rss1 = rss_mib(daemon.proc.pid)

        stop, rc = timed(daemon.stop)
        assert rc == 0
        start, _ = timed(daemon.start)
        relist, reply = timed(lambda: daemon.rpc("ListReplicas"))
        assert len(reply.replicas) == n, f"re-imported {len(reply.replicas)} of {n}"
        rss2 = rss_mib(daemon.proc.pid)
        destroy, _ = timed(lambda: [
            daemon.rpc("DestroyReplica", m.DestroyReplicaRequest(uuid=f"replica-{i:05d}")) for i in range(n)])
        assert daemon.stop() == 0

        kind = "thin" if thin else "thick"
        print(f"replica_scale: {n} {kind} replicas of 4 MiB on one pool")
        print(f"  baseline   {n} x ListPools (empty RPC)      {base:8.3f} s  ({base / n * 1e3:.3f} ms each)")
        print(f"  create     {n} x CreateReplica              {create:8.3f} s  ({create / n * 1e3:.3f} ms each, "
              f"{create / base:.1f}x the empty RPC)")
        print(f"  list       ListReplicas ({n} entries)       {listing:8.3f} s")
        print(f"  restart    SIGTERM + start + import         {stop + start:8.3f} s  (stop {stop:.3f}, start {start:.3f})")
        print(f"  list       after re-import                  {relist:8.3f} s")
        print(f"  destroy    {n} x DestroyReplica             {destroy:8.3f} s  ({destroy / n * 1e3:.3f} ms each)")
        print(f"  memory     VmRSS {rss0:.1f} MiB with the empty pool, {rss1:.1f} MiB with {n} replicas, "
              f"{rss2:.1f} MiB after re-import")
    finally:
        if daemon.proc:
            daemon.kill9()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
