#!/usr/bin/python3
"""The real `mayastor` daemon driven over real gRPC by a client we did not write (Debian's
python3-grpcio): idempotency and status codes of every served RPC as the API sheet gives
them, data through replicas, and restart with re-import of pools, replicas and data.

Usage: api_test.py [unittest args]   (environment: see mayastor_it.py)
"""

import os
import shutil
import tempfile
import unittest
import uuid as uuidlib

import grpc

import mayastor_it as it
from mayastor_it import pb2

OK = grpc.StatusCode.OK
MiB = 1 << 20


class DaemonCase(unittest.TestCase):
    """A fresh daemon (and scratch directory) per test."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ms-api-")
        self.daemon = it.Daemon(self.dir).start()
        self.rpc = self.daemon.rpc
        self.m = pb2()

    def tearDown(self):
        try:
            rc = self.daemon.stop()
            self.assertEqual(rc, 0, f"daemon exit status after SIGTERM\n{self.daemon.log()}")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def disk(self, name="disk", size=100 * MiB):
        return it.make_disk_file(os.path.join(self.dir, name), size)

    def pool(self, name="p0", disk=None):
        disk = disk or self.disk()
        return self.rpc("CreatePool", self.m.CreatePoolRequest(name=name, disks=[disk]))

    def replica(self, name, size=8 * MiB, pool="p0", thin=False):
        return self.rpc("CreateReplica", self.m.CreateReplicaRequest(uuid=name, pool=pool, size=size, thin=thin))

    def assertCode(self, code, method, request=None):
        self.assertEqual(self.rpc.code(method, request), code, f"{method}({request})")


class PoolTest(DaemonCase):
    def test_create_list_destroy(self):
        p = self.pool()
        self.assertEqual(p.name, "p0")
        self.assertEqual(p.state, self.m.POOL_ONLINE)
        self.assertEqual(p.capacity, 96 * MiB)
        self.assertEqual(p.used, 0)
        self.assertEqual(len(p.disks), 1)
        self.assertIn("?uuid=", p.disks[0])
        self.assertIn(os.path.join(self.dir, "disk"), p.disks[0])
        pools = self.rpc("ListPools").pools
        self.assertEqual([x.name for x in pools], ["p0"])
        self.assertEqual(pools[0].capacity, 96 * MiB)
        self.rpc("DestroyPool", self.m.DestroyPoolRequest(name="p0"))
        self.assertEqual(len(self.rpc("ListPools").pools), 0)

    def test_create_is_idempotent(self):
        disk = self.disk()
        a = self.pool(disk=disk)
        b = self.pool(disk=disk)
        self.assertEqual(a, b)
        self.assertEqual(len(self.rpc("ListPools").pools), 1)

    def test_create_errors(self):
        m = self.m
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, "CreatePool", m.CreatePoolRequest(name="x"))
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, "CreatePool",
                        m.CreatePoolRequest(name="x", disks=[self.disk("a"), self.disk("b")]))
        # Same name, different disk.
        self.pool(disk=self.disk("c"))
        self.assertCode(grpc.StatusCode.INTERNAL, "CreatePool", m.CreatePoolRequest(name="p0", disks=[self.disk("d")]))
        # Base device that cannot be created.
        self.assertCode(grpc.StatusCode.INTERNAL, "CreatePool",
                        m.CreatePoolRequest(name="y", disks=[f"aio://{self.disk('e')}?blk_size=333"]))
        self.assertCode(grpc.StatusCode.INTERNAL, "CreatePool",
                        m.CreatePoolRequest(name="y", disks=[f"{self.dir}/does-not-exist"]))
        self.assertEqual([p.name for p in self.rpc("ListPools").pools], ["p0"])

    def test_disk_holding_another_pool(self):
        disk = self.disk()
        self.pool("first", disk)
        self.rpc("DestroyPool", self.m.DestroyPoolRequest(name="first"))
        # Destroy wipes the labels: the disk is free again.
        self.pool("second", disk)
        # Export by restarting without the pools file entry: the disk still holds "second".
        self.daemon.stop()
        os.unlink(self.daemon.pools_file)
        self.daemon.start()
        self.rpc = self.daemon.rpc
        self.assertEqual(len(self.rpc("ListPools").pools), 0)
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, "CreatePool",
                        self.m.CreatePoolRequest(name="third", disks=[disk]))
        # Under its own name it imports.
        self.assertEqual(self.pool("second", disk).name, "second")

    def test_destroy_unknown_is_ok(self):
        self.assertCode(OK, "DestroyPool", self.m.DestroyPoolRequest(name="nope"))
        self.pool()
        self.assertCode(OK, "DestroyPool", self.m.DestroyPoolRequest(name="p0"))
        self.assertCode(OK, "DestroyPool", self.m.DestroyPoolRequest(name="p0"))

    def test_destroy_removes_replicas(self):
        self.pool()
        self.replica("r1")
        self.rpc("DestroyPool", self.m.DestroyPoolRequest(name="p0"))
        self.assertEqual(len(self.rpc("ListReplicas").replicas), 0)
        names = [b.name for b in self.rpc("List").bdevs]
        self.assertNotIn("r1", names)


class ReplicaTest(DaemonCase):
    def test_create_list_destroy(self):
        self.pool()
        r = self.replica("r1", 10 * MiB)
        self.assertEqual(r.uuid, "r1")
        self.assertEqual(r.pool, "p0")
        self.assertEqual(r.size, 10 * MiB)
        self.assertFalse(r.thin)
        self.assertEqual(r.share, self.m.REPLICA_NONE)
        self.assertTrue(r.uri.startswith("bdev:///r1?uuid="), r.uri)
        lvol_uuid = r.uri.split("?uuid=")[1]
        uuidlib.UUID(lvol_uuid)
        t = self.replica("r2", 1000 * MiB, thin=True)
        self.assertTrue(t.thin)
        listed = {x.uuid: x for x in self.rpc("ListReplicas").replicas}
        self.assertEqual(set(listed), {"r1", "r2"})
        self.assertEqual(listed["r1"], r)
        # Thick: 3 clusters (12 MiB) used; thin: nothing yet.
        self.assertEqual(self.rpc("ListPools").pools[0].used, 12 * MiB)
        self.rpc("DestroyReplica", self.m.DestroyReplicaRequest(uuid="r1"))
        self.rpc("DestroyReplica", self.m.DestroyReplicaRequest(uuid="r2"))
        self.assertEqual(len(self.rpc("ListReplicas").replicas), 0)
        self.assertEqual(self.rpc("ListPools").pools[0].used, 0)

    def test_create_is_idempotent(self):
        self.pool()
        a = self.replica("r1", 8 * MiB)
        # Same uuid: returned unchanged, request parameters ignored.
        b = self.replica("r1", 16 * MiB, thin=True)
        self.assertEqual(a, b)
        self.assertEqual(len(self.rpc("ListReplicas").replicas), 1)

    def test_create_errors(self):
        m = self.m
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, "CreateReplica",
                        m.CreateReplicaRequest(uuid="r", pool="nopool", size=MiB))
        self.pool()
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, "CreateReplica",
                        m.CreateReplicaRequest(uuid="r", pool="p0", size=MiB, share=m.REPLICA_ISCSI))
        self.assertCode(grpc.StatusCode.RESOURCE_EXHAUSTED, "CreateReplica",
                        m.CreateReplicaRequest(uuid="big", pool="p0", size=200 * MiB))
        self.replica("most", 90 * MiB)
        self.assertCode(grpc.StatusCode.RESOURCE_EXHAUSTED, "CreateReplica",
                        m.CreateReplicaRequest(uuid="more", pool="p0", size=8 * MiB))
        names = [x.uuid for x in self.rpc("ListReplicas").replicas]
        self.assertEqual(names, ["most"])
        self.assertEqual(self.rpc("ListPools").pools[0].used, 92 * MiB)

    def test_destroy_unknown_is_ok(self):
        self.assertCode(OK, "DestroyReplica", self.m.DestroyReplicaRequest(uuid="nope"))

    def test_share_none_is_idempotent(self):
        self.pool()
        r = self.replica("r1")
        reply = self.rpc("ShareReplica", self.m.ShareReplicaRequest(uuid="r1", share=self.m.REPLICA_NONE))
        self.assertEqual(reply.uri, r.uri)
        self.assertCode(grpc.StatusCode.INTERNAL, "ShareReplica",
                        self.m.ShareReplicaRequest(uuid="r1", share=self.m.REPLICA_ISCSI))
        self.assertCode(grpc.StatusCode.INTERNAL, "ShareReplica",
                        self.m.ShareReplicaRequest(uuid="nope", share=self.m.REPLICA_NONE))

    def test_new_replica_reads_zeros_and_keeps_data(self):
        disk = self.disk()
        # Dirty the disk first: a new replica must still read back zeros.
        with open(disk, "r+b") as f:
            f.write(b"\xa5" * (100 * MiB))
        self.pool(disk=disk)
        for name, thin in (("thick", False), ("thin", True)):
            self.replica(name, 8 * MiB, thin=thin)
            self.assertEqual(self.daemon.read(name, 0, 65536), bytes(65536))
            self.assertEqual(self.daemon.read(name, 8 * MiB - 4096, 4096), bytes(4096))
            data = os.urandom(8192)
            self.daemon.write(name, 4 * MiB + 4096, data)
            self.assertEqual(self.daemon.read(name, 4 * MiB + 4096, 8192), data)
            self.assertEqual(self.daemon.read(name, 4 * MiB, 4096), bytes(4096))

    def test_stats(self):
        self.pool()
        self.replica("r1")
        self.daemon.write("r1", 0, b"x" * 4096)
        self.daemon.read("r1", 0, 8192)
        stats = {s.uuid: s for s in self.rpc("StatReplicas").replicas}
        s = stats["r1"]
        self.assertEqual(s.pool, "p0")
        self.assertEqual(s.stats.num_write_ops, 1)
        self.assertEqual(s.stats.bytes_written, 4096)
        self.assertEqual(s.stats.num_read_ops, 1)
        self.assertEqual(s.stats.bytes_read, 8192)


class SnapshotTest(DaemonCase):
    def test_snapshot_clone_destroy(self):
        m = self.m
        self.pool()
        self.replica("r1", 8 * MiB)
        before = os.urandom(4096)
        self.daemon.write("r1", 0, before)
        s = self.rpc("CreateReplicaSnapshot", m.CreateReplicaSnapshotRequest(replica="r1", name="s1"))
        self.assertEqual((s.name, s.replica, s.pool, s.size), ("s1", "r1", "p0", 8 * MiB))
        again = self.rpc("CreateReplicaSnapshot", m.CreateReplicaSnapshotRequest(replica="r1", name="s1"))
        self.assertEqual(again.uuid, s.uuid)
        after = os.urandom(4096)
        self.daemon.write("r1", 0, after)
        self.assertEqual(self.daemon.read("s1", 0, 4096), before)
        self.assertEqual(self.daemon.read("r1", 0, 4096), after)
        c = self.rpc("CreateReplicaClone", m.CreateReplicaCloneRequest(snapshot="s1", uuid="c1"))
        self.assertTrue(c.thin)
        self.assertEqual(self.daemon.read("c1", 0, 4096), before)
        self.daemon.write("c1", 0, b"c" * 4096)
        self.assertEqual(self.daemon.read("s1", 0, 4096), before)
        self.assertIn("c1", [r.uuid for r in self.rpc("ListReplicas").replicas])
        snaps = self.rpc("ListReplicaSnapshots").snapshots
        self.assertEqual([x.name for x in snaps], ["s1"])
        self.assertEqual(list(snaps[0].clones), ["c1"])
        self.assertCode(grpc.StatusCode.FAILED_PRECONDITION, "DestroyReplicaSnapshot",
                        m.DestroyReplicaSnapshotRequest(name="s1"))
        self.rpc("DestroyReplica", m.DestroyReplicaRequest(uuid="c1"))
        self.rpc("DestroyReplicaSnapshot", m.DestroyReplicaSnapshotRequest(name="s1"))
        self.assertCode(OK, "DestroyReplicaSnapshot", m.DestroyReplicaSnapshotRequest(name="s1"))
        self.assertEqual(len(self.rpc("ListReplicaSnapshots").snapshots), 0)
        # The replica keeps its newest data after its snapshot is merged away.
        self.assertEqual(self.daemon.read("r1", 0, 4096), after)

    def test_errors(self):
        m = self.m
        self.assertCode(grpc.StatusCode.NOT_FOUND, "CreateReplicaSnapshot",
                        m.CreateReplicaSnapshotRequest(replica="nope", name="s"))
        self.assertCode(grpc.StatusCode.NOT_FOUND, "CreateReplicaClone",
                        m.CreateReplicaCloneRequest(snapshot="nope", uuid="c"))
        self.pool()
        self.replica("r1")
        self.replica("r2")
        self.assertCode(grpc.StatusCode.ALREADY_EXISTS, "CreateReplicaSnapshot",
                        m.CreateReplicaSnapshotRequest(replica="r1", name="r2"))
        self.assertCode(OK, "DestroyReplicaSnapshot", m.DestroyReplicaSnapshotRequest(name="nope"))


class BdevTest(DaemonCase):
    def test_create_list_destroy(self):
        m = self.m
        name = self.rpc("Create", m.BdevUri(uri="malloc:///m0?size_mb=8")).name
        self.assertEqual(name, "m0")
        bdevs = {b.name: b for b in self.rpc("List").bdevs}
        self.assertEqual(bdevs["m0"].num_blocks * bdevs["m0"].blk_size, 8 * MiB)
        self.assertEqual(bdevs["m0"].share_uri, "bdev:///m0")
        self.rpc("Destroy", m.BdevUri(uri="malloc:///m0?size_mb=8"))
        self.assertNotIn("m0", [b.name for b in self.rpc("List").bdevs])

    def test_errors(self):
        m = self.m
        for uri in ("nosuch:///x", "malloc:///x?size_mb=8&bogus=1", "malloc:///x", "malloc:///x?size_mb=abc"):
            self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, "Create", m.BdevUri(uri=uri))
        self.rpc("Create", m.BdevUri(uri="malloc:///m1?size_mb=8"))
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, "Share", m.BdevShareRequest(name="m1", proto="nbdx"))
        self.assertCode(grpc.StatusCode.NOT_FOUND, "Share", m.BdevShareRequest(name="nope", proto="nvmf"))
        self.assertCode(OK, "Unshare", m.CreateReply(name="nope"))
        self.assertCode(OK, "Unshare", m.CreateReply(name="m1"))


class MiscTest(DaemonCase):
    def test_resource_usage(self):
        u = self.rpc("GetResourceUsage").usage
        self.assertGreater(u.soft_faults, 0)

    def test_block_devices(self):
        self.rpc("ListBlockDevices", self.m.ListBlockDevicesRequest(all=True))

    def test_no_nvme_controllers_without_nvmf_devices(self):
        self.assertEqual(len(self.rpc("ListNvmeControllers").controllers), 0)

    def test_json_rpc_proxy(self):
        reply = self.rpc("JsonRpcCall", self.m.JsonRpcRequest(method="bdev_create",
                                                               params='{"uri": "malloc:///j0?size_mb=4"}'))
        self.assertIn("j0", reply.result)
        self.assertEqual(self.rpc.code("JsonRpcCall", self.m.JsonRpcRequest(method="bdev_list", params="{")),
                         grpc.StatusCode.INTERNAL)
        self.assertEqual(self.rpc.code("JsonRpcCall", self.m.JsonRpcRequest(method="no_such_method")),
                         grpc.StatusCode.INTERNAL)


class RestartTest(unittest.TestCase):
    """Pools in the -P file come back after a restart, with replicas, snapshots and data."""

    def test_restart_reimports(self):
        d = tempfile.mkdtemp(prefix="ms-restart-")
        daemon = None
        try:
            m = pb2()
            daemon = it.Daemon(d).start()
            disk = it.make_disk_file(os.path.join(d, "disk"), 200 * MiB)
            daemon.rpc("CreatePool", m.CreatePoolRequest(name="p0", disks=[disk]))
            for name, thin in (("thick", False), ("thin", True)):
                daemon.rpc("CreateReplica", m.CreateReplicaRequest(uuid=name, pool="p0", size=16 * MiB, thin=thin))
            data = {name: os.urandom(12288) for name in ("thick", "thin")}
            for name, buf in data.items():
                daemon.write(name, 5 * MiB, buf)
            daemon.rpc("CreateReplicaSnapshot", m.CreateReplicaSnapshotRequest(replica="thin", name="snap"))
            daemon.write("thin", 5 * MiB, b"n" * 4096)
            replicas = sorted(daemon.rpc("ListReplicas").replicas, key=lambda r: r.uuid)
            pools = daemon.rpc("ListPools").pools
            self.assertEqual(daemon.stop(), 0)
            with open(os.path.join(d, "pools.yaml")) as f:
                self.assertIn("p0", f.read())

            daemon = it.Daemon(d)
            daemon.port = it.free_port()
            daemon.endpoint = f"127.0.0.1:{daemon.port}"
            daemon.start()
            self.assertEqual(daemon.rpc("ListPools").pools, pools)
            self.assertEqual(sorted(daemon.rpc("ListReplicas").replicas, key=lambda r: r.uuid), replicas)
            self.assertEqual(daemon.read("thick", 5 * MiB, 12288), data["thick"])
            self.assertEqual(daemon.read("thin", 5 * MiB, 12288), b"n" * 4096 + data["thin"][4096:])
            self.assertEqual(daemon.read("snap", 5 * MiB, 12288), data["thin"])
            # Same after kill -9.
            self.assertEqual(daemon.kill9(), -9)
            daemon.start()
            self.assertEqual(daemon.read("thick", 5 * MiB, 12288), data["thick"])
            self.assertEqual(daemon.stop(), 0)
        finally:
            # A failed assertion must not leave the daemon running.
            if daemon is not None and daemon.proc is not None:
                daemon.kill9()
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
