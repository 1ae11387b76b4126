#!/usr/bin/python3
"""Crash consistency of pools: `kill -9` the real daemon at random moments while a client
streams replica creates and destroys, snapshot creates and writes; restart it (the pool is
re-imported from the -P file) and check that every acknowledged operation and write is
there and nothing else is. The one operation in flight at the kill may or may not have
happened, but only entirely.

Usage: crash_test.py [ROUNDS] [SEED]   (environment: see mayastor_it.py)
"""

import os
import random
import shutil
import sys
import tempfile
import threading
import time

import grpc

import mayastor_it as it
from mayastor_it import pb2

MiB = 1 << 20
BLOCK = 4096
REPLICA_SIZE = 8 * MiB
BLOCKS = REPLICA_SIZE // BLOCK


class Model:
    """What the pool must hold: objects and block contents, acknowledged and in flight."""

    def __init__(self):
        self.replicas = {}   # name -> {block: bytes}
        self.snapshots = {}  # name -> (replica, {block: bytes})
        self.pending = None  # the operation sent but not acknowledged, if any
        self.counter = 0

    def fresh(self, prefix):
        self.counter += 1
        return f"{prefix}{self.counter}"


def block_data(tag):
    head = f"{tag}|".encode()
    return (head * (BLOCK // len(head) + 1))[:BLOCK]


class Stream(threading.Thread):
    """Random operations until the daemon dies; records each one before and after."""

    def __init__(self, daemon, model, rng):
        super().__init__(daemon=True)
        self.d, self.model, self.rng = daemon, model, rng
        self.ops = 0

    def run(self):
        m = pb2()
        rpc = it.Rpc(self.d.endpoint)
        model = self.model
        try:
            while True:
                r = self.rng.random()
                names = sorted(model.replicas)
                if r < 0.12 or len(names) < 2:
                    name = model.fresh("r")
                    thin = self.rng.random() < 0.5
                    model.pending = ("create", name)
                    rpc("CreateReplica", m.CreateReplicaRequest(uuid=name, pool="p0", size=REPLICA_SIZE, thin=thin),
                        timeout=10)
                    model.replicas[name] = {}
                elif r < 0.20:
                    name = self.rng.choice(names)
                    if any(src == name for src, _ in model.snapshots.values()):
                        continue  # a snapshotted replica stays: its snapshots are checked against it
                    model.pending = ("destroy", name)
                    rpc("DestroyReplica", m.DestroyReplicaRequest(uuid=name), timeout=10)
                    del model.replicas[name]
                elif r < 0.27 and len(model.snapshots) < 12:
                    src = self.rng.choice(names)
                    snap = model.fresh("s")
                    model.pending = ("snapshot", snap, src)
                    rpc("CreateReplicaSnapshot", m.CreateReplicaSnapshotRequest(replica=src, name=snap), timeout=10)
                    model.snapshots[snap] = (src, dict(model.replicas[src]))
                else:
                    name = self.rng.choice(names)
                    block = self.rng.randrange(BLOCKS)
                    data = block_data(model.fresh("w"))
                    model.pending = ("write", name, block, data)
                    self.d.write(name, block * BLOCK, data)
                    model.replicas[name][block] = data
                model.pending = None
                self.ops += 1
        except (grpc.RpcError, OSError, AssertionError):
            return  # the daemon was killed; `pending` says what was in flight


def check(daemon, model, rng):
    """Compares the re-imported pool with the model; resolves the in-flight operation."""
    m = pb2()
    replicas = {r.uuid for r in daemon.rpc("ListReplicas").replicas}
    snapshots = {s.name: s for s in daemon.rpc("ListReplicaSnapshots").snapshots}
    p = model.pending
    expected_replicas = set(model.replicas)
    expected_snapshots = set(model.snapshots)
    if p and p[0] == "create" and p[1] in replicas:
        model.replicas[p[1]] = {}
        expected_replicas.add(p[1])
    if p and p[0] == "destroy" and p[1] not in replicas:
        del model.replicas[p[1]]
        expected_replicas.discard(p[1])
    if p and p[0] == "snapshot" and p[1] in snapshots:
        model.snapshots[p[1]] = (p[2], dict(model.replicas[p[2]]))
        expected_snapshots.add(p[1])
    assert replicas == expected_replicas, f"replicas {sorted(replicas)} != {sorted(expected_replicas)} (pending {p})"
    assert set(snapshots) == expected_snapshots, f"snapshots {sorted(snapshots)} != {sorted(expected_snapshots)}"
    for name, (src, _) in model.snapshots.items():
        assert snapshots[name].replica == src, f"snapshot {name} of {snapshots[name].replica}, not {src}"

    if p and p[0] == "write":
        _, name, block, data = p
        got = daemon.read(name, block * BLOCK, BLOCK)
        old = model.replicas[name].get(block, bytes(BLOCK))
        assert got in (old, data), f"{name} block {block}: neither the old nor the new data (torn write?)"
        model.replicas[name][block] = got
    model.pending = None

    checked = 0
    for name, blocks in list(model.replicas.items()) + [(s, b) for s, (_, b) in model.snapshots.items()]:
        for block, data in blocks.items():
            got = daemon.read(name, block * BLOCK, BLOCK)
            assert got == data, f"{name} block {block}: acknowledged data lost ({got[:24]!r}... != {data[:24]!r}...)"
            checked += 1
        for block in rng.sample(range(BLOCKS), 4):
            if block not in blocks:
                got = daemon.read(name, block * BLOCK, BLOCK)
                assert got == bytes(BLOCK), f"{name} block {block} was never written but is not zero"
    return checked


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else int(time.time())
    rng = random.Random(seed)
    print(f"crash_test: {rounds} rounds, seed {seed}", flush=True)
    d = tempfile.mkdtemp(prefix="ms-crash-")
    daemon = it.Daemon(d)
    try:
        m = pb2()
        daemon.start()
        disk = it.make_disk_file(os.path.join(d, "disk"), 256 * MiB)
        daemon.rpc("CreatePool", m.CreatePoolRequest(name="p0", disks=[disk]))
        model = Model()
        for rnd in range(rounds):
            stream = Stream(daemon, model, rng)
            stream.start()
            time.sleep(rng.uniform(0.3, 2.5))
            daemon.kill9()
            stream.join(timeout=30)
            assert not stream.is_alive(), "the client stream did not notice the kill"
            daemon.start()
            pools = daemon.rpc("ListPools").pools
            assert [p.name for p in pools] == ["p0"], f"pool not re-imported after kill -9: {pools}"
            checked = check(daemon, model, rng)
            print(f"round {rnd}: {stream.ops} acknowledged ops before kill -9; after restart "
                  f"{len(model.replicas)} replicas, {len(model.snapshots)} snapshots, "
                  f"{checked} written blocks verified", flush=True)
        rc = daemon.stop()
        assert rc == 0, f"exit status {rc} after SIGTERM"
        print("crash_test: OK")
    except AssertionError as e:
        print(f"FAIL (seed {seed}): {e}\n--- daemon log tail:\n{daemon.log()}", file=sys.stderr)
        if daemon.proc:
            daemon.kill9()
        return 1
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
