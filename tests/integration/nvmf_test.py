#!/usr/bin/python3
"""Sharing over NVMe-oF in the real `mayastor` daemon, driven over real gRPC by Debian's
python3-grpcio and by mayastor-client: ShareReplica and PublishNexus with their codes and URIs,
ANA, the share surviving a restart (SIGTERM and kill -9), and two daemons on this machine: a
nexus in one over a local replica and a replica of the other reached through our NVMe-oF host,
the remote daemon killed -9 in the middle of a write stream (the child faults, no acknowledged
write is lost), then restarted and its replica added back and rebuilt.

Each daemon has its own free gRPC and NVMe-oF ports (mayastor_it.Daemon), kept across its
restarts. Data goes in and out through the daemons' JSON-RPC sockets (bdev_write / bdev_read).

Usage: nvmf_test.py [unittest args]   (environment: see mayastor_it.py)
"""

import os
import shutil
import signal
import tempfile
import threading
import time
import unittest

import grpc

import mayastor_it as it
from mayastor_it import pb2

OK = grpc.StatusCode.OK
INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
MiB = 1 << 20
U1 = "6f3c2a1e-9b4d-4e7a-8c5f-0d1e2f3a4b5c"
U2 = "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d"
NQN = "nqn.2019-05.io.openebs:"


def blob(tag, length):
    """`length` bytes that differ per `tag`."""
    head = f"<{tag}>".encode()
    return (head * (length // len(head) + 1))[:length]


class NvmfCase(unittest.TestCase):
    """Daemons with their own scratch directories; stopped (SIGTERM, exit 0) at the end."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ms-nvmf-")
        self.m = pb2()
        self.daemons = []

    def tearDown(self):
        try:
            for d in self.daemons:
                if d.proc is not None:
                    rc = d.stop()
                    self.assertEqual(rc, 0, f"daemon exit status after SIGTERM\n{d.log()}")
        finally:
            for d in self.daemons:
                if d.proc is not None:
                    d.kill9()
            shutil.rmtree(self.dir, ignore_errors=True)

    def daemon(self, name):
        work = os.path.join(self.dir, name)
        os.makedirs(work)
        d = it.Daemon(work).start()
        self.daemons.append(d)
        return d

    def pool(self, d, name, size=128 * MiB):
        path = it.make_disk_file(os.path.join(d.workdir, name + ".img"), size)
        return d.rpc("CreatePool", self.m.CreatePoolRequest(name=name, disks=["aio://" + path]))

    def replica(self, d, uuid, pool, size=32 * MiB, share=0):
        return d.rpc("CreateReplica", self.m.CreateReplicaRequest(uuid=uuid, pool=pool, size=size, share=share))

    def replica_uri(self, d, uuid):
        for r in d.rpc("ListReplicas").replicas:
            if r.uuid == uuid:
                return r
        raise AssertionError(f"replica {uuid} is not listed")

    def nexus(self, d, uuid):
        for n in d.rpc("ListNexus").nexus_list:
            if n.uuid == uuid:
                return n
        raise AssertionError(f"nexus {uuid} is not listed")

    def child_state(self, d, uuid, uri):
        for c in self.nexus(d, uuid).children:
            if c.uri == uri:
                return c.state
        raise AssertionError(f"{uri} is not a child of {uuid}")

    def code(self, d, method, request=None):
        return d.rpc.code(method, request)

    def cli_ok(self, d, *args):
        r = it.client(d.endpoint, *args)
        self.assertEqual(r.returncode, 0, f"mayastor-client {' '.join(args)}: {r.stderr}")
        self.assertEqual(r.stderr, "")
        return r.stdout


class ShareTest(NvmfCase):
    def test_replica_share_codes_and_uris(self):
        m = self.m
        d = self.daemon("a")
        self.pool(d, "p0")
        r = self.replica(d, "r1", "p0")
        local = r.uri
        lvol = local.split("?uuid=")[1]
        nvmf = f"nvmf://127.0.0.1:{d.nvmf_port}/{NQN}r1?uuid={lvol}"
        self.assertEqual(d.rpc("ShareReplica", m.ShareReplicaRequest(uuid="r1", share=m.REPLICA_NVMF)).uri, nvmf)
        self.assertEqual(d.rpc("ShareReplica", m.ShareReplicaRequest(uuid="r1", share=m.REPLICA_NVMF)).uri, nvmf)
        listed = self.replica_uri(d, "r1")
        self.assertEqual((listed.share, listed.uri), (m.REPLICA_NVMF, nvmf))
        self.assertEqual(self.code(d, "ShareReplica", m.ShareReplicaRequest(uuid="r1", share=m.REPLICA_ISCSI)),
                         grpc.StatusCode.INTERNAL)
        self.assertEqual(self.code(d, "ShareReplica", m.ShareReplicaRequest(uuid="nope", share=m.REPLICA_NVMF)),
                         grpc.StatusCode.INTERNAL)
        # The subsystem is there: our host in the same daemon connects to it.
        dev = d.rpc("Create", m.BdevUri(uri=f"nvmf://127.0.0.1:{d.nvmf_port}/{NQN}r1")).name
        self.assertEqual(dev, f"127.0.0.1:{d.nvmf_port}/{NQN}r1n1")
        ctrl = d.rpc("ListNvmeControllers").controllers
        self.assertEqual([(c.name, c.state, c.size, c.blk_size) for c in ctrl],
                         [(dev, m.RUNNING, 32 * MiB, 512)])
        out = self.cli_ok(d, "controller", "list")
        self.assertIn(f"{dev} {32 * MiB} running 512", " ".join(out.split()))
        d.write(dev, 4096, blob("over-nvmf", 64 * 1024))
        self.assertEqual(d.read("r1", 4096, 64 * 1024), blob("over-nvmf", 64 * 1024))
        d.rpc("Destroy", m.BdevUri(uri=f"nvmf://127.0.0.1:{d.nvmf_port}/{NQN}r1"))
        # Unshared: the URI is bdev:/// again and the subsystem is gone.
        self.assertEqual(d.rpc("ShareReplica", m.ShareReplicaRequest(uuid="r1", share=m.REPLICA_NONE)).uri, local)
        self.assertEqual(self.code(d, "Create", m.BdevUri(uri=f"nvmf://127.0.0.1:{d.nvmf_port}/{NQN}r1")),
                         grpc.StatusCode.INTERNAL)
        # The CLI: replica share, then created shared, then destroyed (unshared first).
        self.assertEqual(self.cli_ok(d, "-v", "replica", "share", "r1", "nvmf").splitlines()[-1], nvmf)
        r2 = self.replica(d, "r2", "p0", share=m.REPLICA_NVMF)
        self.assertTrue(r2.uri.startswith(f"nvmf://127.0.0.1:{d.nvmf_port}/{NQN}r2?uuid="), r2.uri)
        d.rpc("DestroyReplica", m.DestroyReplicaRequest(uuid="r2"))
        d.rpc("DestroyPool", m.DestroyPoolRequest(name="p0"))
        self.assertEqual(len(d.rpc("ListReplicas").replicas), 0)

    def test_share_survives_restart_and_kill(self):
        m = self.m
        d = self.daemon("a")
        self.pool(d, "p0")
        self.replica(d, "r1", "p0", share=m.REPLICA_NVMF)
        self.replica(d, "r2", "p0")
        nvmf = self.replica_uri(d, "r1").uri
        for how in ("TERM", "KILL"):
            rc = d.stop() if how == "TERM" else d.kill9()
            self.assertEqual(rc, 0 if how == "TERM" else -signal.SIGKILL, d.log())
            d.start()
            self.assertEqual(self.replica_uri(d, "r1").uri, nvmf, how)
            self.assertEqual(self.replica_uri(d, "r2").share, m.REPLICA_NONE, how)
            self.assertIn("1 replica(s) shared", d.log())
            # Exported again: a host can connect.
            uri = f"nvmf://127.0.0.1:{d.nvmf_port}/{NQN}r1"
            d.rpc("Create", m.BdevUri(uri=uri))
            d.rpc("Destroy", m.BdevUri(uri=uri))

    def test_publish_and_ana(self):
        m = self.m
        d = self.daemon("a")
        self.pool(d, "p0")
        r = self.replica(d, "r1", "p0")
        d.rpc("CreateNexus", m.CreateNexusRequest(uuid=U1, size=16 * MiB, children=[r.uri]))
        want = f"nvmf://127.0.0.1:{d.nvmf_port}/{NQN}nexus-{U1}"
        self.assertEqual(self.code(d, "GetNvmeAnaState", m.GetNvmeAnaStateRequest(uuid=U1)), INVALID)
        self.assertEqual(self.code(d, "UnpublishNexus", m.UnpublishNexusRequest(uuid=U1)), OK)
        self.assertEqual(self.code(d, "PublishNexus", m.PublishNexusRequest(uuid=U2, share=m.NEXUS_NVMF)), NOT_FOUND)
        self.assertEqual(self.code(d, "PublishNexus", m.PublishNexusRequest(uuid=U1, key="k", share=m.NEXUS_NVMF)),
                         INVALID)
        self.assertEqual(d.rpc("PublishNexus", m.PublishNexusRequest(uuid=U1, share=m.NEXUS_NVMF)).device_uri, want)
        self.assertEqual(d.rpc("PublishNexus", m.PublishNexusRequest(uuid=U1, share=m.NEXUS_NVMF)).device_uri, want)
        self.assertEqual(self.nexus(d, U1).device_uri, want)
        self.assertEqual(self.code(d, "PublishNexus", m.PublishNexusRequest(uuid=U1, share=m.NEXUS_NBD)), INVALID)
        self.assertEqual(self.code(d, "PublishNexus", m.PublishNexusRequest(uuid=U1, share=m.NEXUS_ISCSI)), INVALID)

        self.assertEqual(d.rpc("GetNvmeAnaState", m.GetNvmeAnaStateRequest(uuid=U1)).ana_state,
                         m.NVME_ANA_OPTIMIZED_STATE)
        d.rpc("SetNvmeAnaState", m.SetNvmeAnaStateRequest(uuid=U1, ana_state=m.NVME_ANA_INACCESSIBLE_STATE))
        self.assertEqual(self.cli_ok(d, "nexus", "ana_state", U1), "inaccessible\n")
        self.cli_ok(d, "nexus", "ana_state", U1, "non_optimized")
        self.assertEqual(d.rpc("GetNvmeAnaState", m.GetNvmeAnaStateRequest(uuid=U1)).ana_state,
                         m.NVME_ANA_NON_OPTIMIZED_STATE)
        for bad in (m.NVME_ANA_INVALID_STATE, m.NVME_ANA_PERSISTENT_LOSS_STATE, m.NVME_ANA_CHANGE_STATE):
            self.assertEqual(self.code(d, "SetNvmeAnaState", m.SetNvmeAnaStateRequest(uuid=U1, ana_state=bad)),
                             INVALID)

        # Data written through the published nexus by our host reads back through the nexus.
        dev = d.rpc("Create", m.BdevUri(uri=want)).name
        d.write(dev, 0, blob("host", MiB))
        self.assertEqual(d.read(f"nexus-{U1}", 0, MiB), blob("host", MiB))
        d.rpc("Destroy", m.BdevUri(uri=want))

        d.rpc("UnpublishNexus", m.UnpublishNexusRequest(uuid=U1))
        self.assertEqual(self.nexus(d, U1).device_uri, "")
        self.assertEqual(self.code(d, "GetNvmeAnaState", m.GetNvmeAnaStateRequest(uuid=U1)), INVALID)
        # The CLI publishes too; DestroyNexus unpublishes implicitly.
        out = self.cli_ok(d, "-v", "nexus", "publish", "-p", "nvmf", U1)
        self.assertEqual(out.splitlines()[-1], want)
        d.rpc("DestroyNexus", m.DestroyNexusRequest(uuid=U1))
        self.assertEqual(len(d.rpc("ListNexus").nexus_list), 0)
        self.assertEqual(self.code(d, "Create", m.BdevUri(uri=want)), grpc.StatusCode.INTERNAL)


class TwoDaemonTest(NvmfCase):
    SIZE = 32 * MiB
    NEXUS = 16 * MiB
    CHUNK = 64 * 1024

    def test_remote_replica_killed_mid_stream_then_rebuilt(self):
        m = self.m
        a = self.daemon("a")  # holds the remote replica
        b = self.daemon("b")  # holds the nexus and a local replica
        self.pool(a, "pa")
        self.pool(b, "pb")
        remote = self.replica(a, "ra", "pa", self.SIZE, share=m.REPLICA_NVMF).uri.split("?")[0]
        local = self.replica(b, "rb", "pb", self.SIZE).uri
        n = b.rpc("CreateNexus", m.CreateNexusRequest(uuid=U1, size=self.NEXUS, children=[local, remote]))
        self.assertEqual(n.state, m.NEXUS_ONLINE)
        nexus_dev = f"nexus-{U1}"
        b.write(nexus_dev, 0, blob("first", MiB))
        self.assertEqual(b.read(nexus_dev, 0, MiB), blob("first", MiB))
        self.assertEqual(a.read("ra", 0, MiB), b.read("rb", 0, MiB))
        self.assertEqual(b.rpc("CreateSnapshot", m.CreateSnapshotRequest(uuid=U1)).name.split("-snap-")[0],
                         nexus_dev)
        names = {s.name.split("-snap-")[0] for s in a.rpc("ListReplicaSnapshots").snapshots}
        self.assertEqual(names, {"ra"})

        # A stream of writes; the remote daemon is killed in the middle of it.
        acked = {}
        errors = []
        stop = threading.Event()

        def writer():
            i = 0
            while not stop.is_set():
                off = MiB + (i * self.CHUNK) % (self.NEXUS - 2 * MiB)
                data = blob(f"w{i}", self.CHUNK)
                try:
                    b.write(nexus_dev, off, data)
                    acked[off] = data
                except AssertionError as e:  # a write may fail while the child goes
                    errors.append(str(e))
                i += 1

        t = threading.Thread(target=writer)
        t.start()
        it.wait_for(lambda: len(acked) >= 20, 60, "20 acknowledged writes")
        self.assertEqual(a.kill9(), -signal.SIGKILL)
        before = len(acked)
        it.wait_for(lambda: self.child_state(b, U1, remote) == m.CHILD_FAULTED, 60, "the remote child to fault")
        it.wait_for(lambda: len(acked) >= before + 20, 60, "writes to go on after the fault")
        stop.set()
        t.join()
        self.assertEqual(self.nexus(b, U1).state, m.NEXUS_DEGRADED)
        for off, data in acked.items():
            self.assertEqual(b.read(nexus_dev, off, self.CHUNK), data, f"acknowledged write at {off}")

        # The remote daemon comes back (same ports, pool imported, replica shared again); the
        # replica is added back and rebuilt from the local one.
        a.start()
        self.assertEqual(self.replica_uri(a, "ra").share, m.REPLICA_NVMF)
        b.rpc("RemoveChildNexus", m.RemoveChildNexusRequest(uuid=U1, uri=remote))
        b.rpc("AddChildNexus", m.AddChildNexusRequest(uuid=U1, uri=remote))
        it.wait_for(lambda: self.child_state(b, U1, remote) == m.CHILD_ONLINE, 120, "the rebuild to complete")
        self.assertEqual(self.nexus(b, U1).state, m.NEXUS_ONLINE)
        for off in range(0, self.SIZE, MiB):
            self.assertEqual(a.read("ra", off, MiB), b.read("rb", off, MiB), f"children differ at {off}")
        for off, data in acked.items():
            self.assertEqual(b.read(nexus_dev, off, self.CHUNK), data, f"acknowledged write at {off}")
        b.rpc("DestroyNexus", m.DestroyNexusRequest(uuid=U1))


if __name__ == "__main__":
    unittest.main(verbosity=2)
