#!/usr/bin/python3
"""The nexus in the real `mayastor` daemon, driven over real gRPC by a client we did not write
(Debian's python3-grpcio) and by mayastor-client: nexuses over replicas and over files, status
codes and idempotency as the API sheet gives them, child states, rebuilds (and their CLI), and a
kill -9 in the middle of a rebuild followed by a restart on the same store.

Data goes in and out through the daemon's JSON-RPC socket (bdev_write / bdev_read on the nexus
device `nexus-<uuid>`); children on files are also read directly, since a child holds the
volume's blocks from offset 0.

Usage: nexus_test.py [unittest args]   (environment: see mayastor_it.py)
"""

import os
import shutil
import signal
import subprocess
import tempfile
import unittest

import grpc

import mayastor_it as it
from mayastor_it import pb2

OK = grpc.StatusCode.OK
MiB = 1 << 20
U1 = "6f3c2a1e-9b4d-4e7a-8c5f-0d1e2f3a4b5c"
U2 = "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d"


def device(uuid):
    return f"nexus-{uuid}"


def blob(tag, length):
    """`length` bytes that differ per `tag`."""
    head = f"<{tag}>".encode()
    return (head * (length // len(head) + 1))[:length]


class NexusCase(unittest.TestCase):
    """A fresh daemon with its own scratch directory and store per test."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ms-nexus-")
        self.store = os.path.join(self.dir, "store")
        self.daemon = None
        self.start_daemon()
        self.m = pb2()

    def tearDown(self):
        try:
            if self.daemon.proc is not None:
                rc = self.daemon.stop()
                self.assertEqual(rc, 0, f"daemon exit status after SIGTERM\n{self.daemon.log()}")
        finally:
            if self.daemon.proc is not None:
                self.daemon.kill9()
            shutil.rmtree(self.dir, ignore_errors=True)

    def start_daemon(self):
        """(Re)starts the daemon on a fresh port, with the same scratch directory and store."""
        self.daemon = it.Daemon(self.dir, extra_args=["--store-dir", self.store])
        self.daemon.start()
        self.rpc = self.daemon.rpc

    def file(self, name, size=64 * MiB):
        return it.make_disk_file(os.path.join(self.dir, name), size)

    def aio(self, name, size=64 * MiB):
        """A new file of `size` bytes and its child URI."""
        return "aio://" + self.file(name, size)

    @staticmethod
    def path(uri):
        return uri[len("aio://"):]

    def create(self, uuid, size, children):
        return self.rpc("CreateNexus", self.m.CreateNexusRequest(uuid=uuid, size=size, children=children))

    def nexus(self, uuid):
        for n in self.rpc("ListNexus").nexus_list:
            if n.uuid == uuid:
                return n
        raise AssertionError(f"nexus {uuid} is not listed")

    def child(self, uuid, uri):
        for c in self.nexus(uuid).children:
            if c.uri == uri:
                return c
        raise AssertionError(f"{uri} is not a child of {uuid}")

    def wait_child(self, uuid, uri, state, timeout=120):
        it.wait_for(lambda: self.child(uuid, uri).state == state, timeout,
                    f"child {uri} to be {self.m.ChildState.Name(state)}")

    def assertCode(self, code, method, request=None):
        self.assertEqual(self.rpc.code(method, request), code, f"{method}({request})")

    def cli(self, *args):
        return it.client(self.daemon.endpoint, *args)

    def cli_ok(self, *args):
        r = self.cli(*args)
        self.assertEqual(r.returncode, 0, f"mayastor-client {' '.join(args)}: {r.stderr}")
        self.assertEqual(r.stderr, "")
        return r.stdout

    def rebuild_request(self, kind, uuid, uri):
        return getattr(self.m, kind)(uuid=uuid, uri=uri)


class NexusTest(NexusCase):
    def test_over_replicas(self):
        m = self.m
        self.rpc("CreatePool", m.CreatePoolRequest(name="p0", disks=[self.file("disk", 100 * MiB)]))
        uris = [self.rpc("CreateReplica", m.CreateReplicaRequest(uuid=r, pool="p0", size=16 * MiB)).uri
                for r in ("r1", "r2")]
        n = self.create(U1, 16 * MiB, uris)
        self.assertEqual(n.uuid, U1)
        self.assertEqual(n.size, 16 * MiB)
        self.assertEqual(n.state, m.NEXUS_ONLINE)
        self.assertEqual([c.uri for c in n.children], uris)
        self.assertEqual([c.state for c in n.children], [m.CHILD_ONLINE] * 2)
        self.assertEqual([c.rebuild_progress for c in n.children], [-1, -1])
        self.assertEqual(n.device_uri, "")
        self.assertEqual(n.rebuilds, 0)
        self.assertEqual(list(self.rpc("ListNexus").nexus_list), [n])

        data = blob("replicas", 256 * 1024)
        self.daemon.write(device(U1), 3 * MiB, data)
        self.assertEqual(self.daemon.read(device(U1), 3 * MiB, len(data)), data)
        for r in ("r1", "r2"):
            self.assertEqual(self.daemon.read(r, 3 * MiB, len(data)), data, r)

        self.rpc("DestroyNexus", m.DestroyNexusRequest(uuid=U1))
        self.assertEqual(len(self.rpc("ListNexus").nexus_list), 0)
        # The replicas are the pool's: they stay, with the data.
        self.assertEqual(sorted(r.uuid for r in self.rpc("ListReplicas").replicas), ["r1", "r2"])
        self.assertEqual(self.daemon.read("r2", 3 * MiB, len(data)), data)
        self.assertCode(OK, "DestroyNexus", m.DestroyNexusRequest(uuid=U1))

    def test_over_files(self):
        a, b = self.aio("a"), self.aio("b")
        n = self.create(U1, 32 * MiB, [a, b])
        self.assertEqual(n.state, self.m.NEXUS_ONLINE)
        data = blob("files", MiB)
        self.daemon.write(device(U1), 31 * MiB, data)
        self.daemon.fill(device(U1), 0, 4096, 0x5A)
        # Each child file holds the blocks at the same offsets.
        for uri in (a, b):
            self.assertEqual(it.read_file(self.path(uri), 31 * MiB, MiB), data, uri)
            self.assertEqual(it.read_file(self.path(uri), 0, 4096), b"\x5a" * 4096, uri)
        # The nexus is a device of the daemon (BdevRpc.List), 32 MiB.
        bdevs = {b.name: b for b in self.rpc("List").bdevs}
        self.assertEqual(bdevs[device(U1)].num_blocks * bdevs[device(U1)].blk_size, 32 * MiB)
        # I/O past the nexus's end is refused, though the children are larger.
        _, error = self.daemon.jsonrpc("bdev_read", {"name": device(U1), "offset": 32 * MiB, "length": 4096})
        self.assertIsNotNone(error)

    def test_codes_and_idempotency(self):
        m = self.m
        a, b = self.aio("a"), self.aio("b")
        n = self.create(U1, 32 * MiB, [a, b])
        # Existing: returned as it is, whatever the request says.
        self.assertEqual(self.create(U1, 8 * MiB, [self.aio("c")]), n)
        bad = [
            (grpc.StatusCode.INVALID_ARGUMENT, "not-a-uuid", 8 * MiB, [self.aio("d")]),
            (grpc.StatusCode.INVALID_ARGUMENT, U2, 8 * MiB, []),
            (grpc.StatusCode.INVALID_ARGUMENT, U2, 8 * MiB, [f"aio://{self.dir}/missing"]),
            (grpc.StatusCode.INVALID_ARGUMENT, U2, 8 * MiB, ["nope:///x"]),
            (grpc.StatusCode.INVALID_ARGUMENT, U2, 8 * MiB, [a]),  # in use by U1
            (grpc.StatusCode.INVALID_ARGUMENT, U2, 8 * MiB,
             [self.aio("e"), "aio://" + self.file("f") + "?blk_size=4096"]),
            (grpc.StatusCode.INTERNAL, U2, 128 * MiB, [self.aio("g")]),  # child too small
        ]
        for code, uuid, size, children in bad:
            self.assertCode(code, "CreateNexus", m.CreateNexusRequest(uuid=uuid, size=size, children=children))
        self.assertEqual([x.uuid for x in self.rpc("ListNexus").nexus_list], [U1])
        # Nothing was left behind by the failures: only U1 and its children are devices.
        names = sorted(b.name for b in self.rpc("List").bdevs)
        self.assertEqual(names, sorted([device(U1), self.path(a), self.path(b)]))
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, "DestroyNexus", m.DestroyNexusRequest(uuid="x"))
        self.assertCode(OK, "DestroyNexus", m.DestroyNexusRequest(uuid=U2))
        self.assertCode(OK, "DestroyNexus", m.DestroyNexusRequest(uuid=U1))
        self.assertCode(OK, "DestroyNexus", m.DestroyNexusRequest(uuid=U1))
        self.assertEqual(len(self.rpc("ListNexus").nexus_list), 0)
        # The children's devices went with the nexus: the files are free for another one.
        self.assertEqual(self.create(U2, 32 * MiB, [a]).state, m.NEXUS_ONLINE)

    def test_cli(self):
        a, b = self.aio("a"), self.aio("b")
        self.assertEqual(self.cli_ok("nexus", "create", U1, "32MiB", a, b), "")
        self.assertEqual(self.nexus(U1).size, 32 * MiB)
        self.assertEqual(self.cli_ok("-v", "nexus", "create", U1, "32MiB", a, b).splitlines()[-1], U1)
        lines = self.cli_ok("nexus", "list").splitlines()
        self.assertEqual(lines[0].split(), ["NAME", "SIZE", "STATE", "REBUILDS", "PATH"])
        self.assertEqual(lines[1].split(), [U1, str(32 * MiB), "online", "0"])
        self.assertEqual(self.cli_ok("-q", "nexus", "list", "-c"), f"{U1} {32 * MiB} online 0  {a},{b}\n")
        self.assertEqual(self.cli_ok("-q", "nexus", "children", U1), f"{a} online\n{b} online\n")
        r = self.cli("nexus", "children", U2)
        self.assertEqual(r.returncode, 1)
        self.assertIn("Specified nexus not found", r.stderr)
        r = self.cli("nexus", "create", "bad", "32MiB", a)
        self.assertEqual(r.returncode, 1)
        self.assertIn("code: InvalidArgument", r.stderr)
        self.assertEqual(self.cli_ok("nexus", "destroy", U1), "")
        self.assertEqual(self.cli_ok("nexus", "list"), "No nexus found\n")


class ChildTest(NexusCase):
    def setUp(self):
        super().setUp()
        self.a, self.b = self.aio("a"), self.aio("b")
        self.create(U1, 32 * MiB, [self.a, self.b])

    def test_fault_and_online(self):
        m = self.m
        self.assertCode(grpc.StatusCode.NOT_FOUND, "FaultNexusChild", m.FaultNexusChildRequest(uuid=U2, uri=self.b))
        self.assertCode(grpc.StatusCode.NOT_FOUND, "FaultNexusChild",
                        m.FaultNexusChildRequest(uuid=U1, uri="aio:///nowhere"))
        self.assertEqual(self.cli_ok("nexus", "child", "fault", U1, self.b), "")
        self.assertEqual(self.child(U1, self.b).state, m.CHILD_FAULTED)
        self.assertEqual(self.nexus(U1).state, m.NEXUS_DEGRADED)
        self.assertEqual(self.cli_ok("-q", "nexus", "children", U1), f"{self.a} online\n{self.b} faulted\n")
        self.assertEqual(self.cli_ok("-q", "nexus", "list").split()[2], "degraded")
        # The last healthy child.
        self.assertCode(grpc.StatusCode.INTERNAL, "FaultNexusChild", m.FaultNexusChildRequest(uuid=U1, uri=self.a))
        r = self.cli("nexus", "child", "fault", U1, self.a)
        self.assertEqual(r.returncode, 1)
        self.assertIn("code: Internal", r.stderr)
        # Written while b is faulted: b gets it back by the rebuild that online starts.
        data = blob("while-faulted", MiB)
        self.daemon.write(device(U1), 20 * MiB, data)
        self.assertNotEqual(it.read_file(self.path(self.b), 20 * MiB, MiB), data)
        self.rpc("ChildOperation", m.ChildNexusRequest(uuid=U1, uri=self.b, action=m.online))
        self.wait_child(U1, self.b, m.CHILD_ONLINE)
        self.assertEqual(self.nexus(U1).state, m.NEXUS_ONLINE)
        self.assertEqual(it.read_file(self.path(self.b), 20 * MiB, MiB), data)
        self.assertIs(it.files_equal(self.path(self.a), self.path(self.b), 32 * MiB), True)

    def test_offline_and_online(self):
        m = self.m
        offline, online = m.offline, m.online
        self.assertCode(grpc.StatusCode.INTERNAL, "ChildOperation",
                        m.ChildNexusRequest(uuid=U1, uri=self.a, action=online))  # open already
        self.assertCode(grpc.StatusCode.NOT_FOUND, "ChildOperation",
                        m.ChildNexusRequest(uuid=U2, uri=self.a, action=offline))
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, "ChildOperation",
                        m.ChildNexusRequest(uuid="x", uri=self.a, action=offline))
        self.rpc("ChildOperation", m.ChildNexusRequest(uuid=U1, uri=self.b, action=offline))
        self.assertEqual(self.child(U1, self.b).state, m.CHILD_DEGRADED)
        self.assertEqual(self.nexus(U1).state, m.NEXUS_DEGRADED)
        self.assertCode(grpc.StatusCode.INTERNAL, "ChildOperation",
                        m.ChildNexusRequest(uuid=U1, uri=self.a, action=offline))  # last healthy
        self.assertEqual(self.child(U1, self.a).state, m.CHILD_ONLINE)
        data = blob("while-offline", MiB)
        self.daemon.write(device(U1), 7 * MiB, data)
        self.assertEqual(self.daemon.read(device(U1), 7 * MiB, MiB), data)  # from a only
        self.rpc("ChildOperation", m.ChildNexusRequest(uuid=U1, uri=self.b, action=online))
        self.wait_child(U1, self.b, m.CHILD_ONLINE)
        self.assertEqual(it.read_file(self.path(self.b), 7 * MiB, MiB), data)
        self.assertIs(it.files_equal(self.path(self.a), self.path(self.b), 32 * MiB), True)

    def test_add_and_remove(self):
        m = self.m
        c = self.aio("c")
        child = self.rpc("AddChildNexus", m.AddChildNexusRequest(uuid=U1, uri=c, norebuild=True))
        self.assertEqual((child.uri, child.state), (c, m.CHILD_DEGRADED))
        self.assertEqual(self.nexus(U1).state, m.NEXUS_DEGRADED)
        self.assertEqual(self.nexus(U1).rebuilds, 0)
        self.assertCode(grpc.StatusCode.INTERNAL, "AddChildNexus", m.AddChildNexusRequest(uuid=U1, uri=c))
        self.assertCode(grpc.StatusCode.NOT_FOUND, "AddChildNexus", m.AddChildNexusRequest(uuid=U2, uri=c))
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, "AddChildNexus",
                        m.AddChildNexusRequest(uuid=U1, uri=self.aio("small", 8 * MiB)))
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, "AddChildNexus",
                        m.AddChildNexusRequest(uuid=U1, uri=f"aio://{self.dir}/missing"))
        self.assertEqual(self.cli_ok("nexus", "remove", U1, c), "")
        self.assertEqual([x.uri for x in self.nexus(U1).children], [self.a, self.b])
        self.assertEqual(self.nexus(U1).state, m.NEXUS_ONLINE)
        self.assertCode(OK, "RemoveChildNexus", m.RemoveChildNexusRequest(uuid=U1, uri=c))
        self.assertCode(grpc.StatusCode.NOT_FOUND, "RemoveChildNexus", m.RemoveChildNexusRequest(uuid=U2, uri=c))
        self.rpc("RemoveChildNexus", m.RemoveChildNexusRequest(uuid=U1, uri=self.b))
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, "RemoveChildNexus",
                        m.RemoveChildNexusRequest(uuid=U1, uri=self.a))  # the last child
        # Added with the CLI (norebuild false): rebuilt.
        self.assertEqual(self.cli_ok("nexus", "add", U1, c), "")
        self.wait_child(U1, c, m.CHILD_ONLINE)


class RebuildTest(NexusCase):
    SIZE = 256 * MiB  # big enough that a rebuild is still running a few calls after its start

    def setUp(self):
        super().setUp()
        self.a = self.aio("a", self.SIZE)
        self.create(U1, self.SIZE, [self.a])
        self.data = {}
        for off in (0, 100 * MiB, self.SIZE - MiB):
            self.data[off] = blob(f"at-{off}", MiB)
            self.daemon.write(device(U1), off, self.data[off])

    def start_paused(self, uri):
        """Adds `uri` without a rebuild, starts one and pauses it at once."""
        m = self.m
        self.rpc("AddChildNexus", m.AddChildNexusRequest(uuid=U1, uri=uri, norebuild=True))
        self.rpc("StartRebuild", m.StartRebuildRequest(uuid=U1, uri=uri))
        self.rpc("PauseRebuild", m.PauseRebuildRequest(uuid=U1, uri=uri))

    def check_rebuilt(self, uri):
        for off, data in self.data.items():
            self.assertEqual(it.read_file(self.path(uri), off, len(data)), data, off)
        self.assertIs(it.files_equal(self.path(self.a), self.path(uri), self.SIZE), True)

    def test_added_child_is_rebuilt(self):
        m = self.m
        b = self.aio("b", self.SIZE)
        child = self.rpc("AddChildNexus", m.AddChildNexusRequest(uuid=U1, uri=b))
        self.assertIn(child.state, (m.CHILD_DEGRADED, m.CHILD_ONLINE))
        self.wait_child(U1, b, m.CHILD_ONLINE)
        self.assertEqual(self.nexus(U1).state, m.NEXUS_ONLINE)
        self.assertEqual(self.nexus(U1).rebuilds, 0)
        self.check_rebuilt(b)

    def test_pause_resume_follow_with_the_cli(self):
        m = self.m
        b = self.aio("b", self.SIZE)
        self.start_paused(b)
        self.assertEqual(self.cli_ok("rebuild", "state", U1, b), "state \npaused\n")
        lines = self.cli_ok("rebuild", "stats", U1, b).splitlines()
        self.assertEqual(lines[0].split(), ["blocks_total", "blocks_recovered", "progress", "(%)",
                                            "segment_size_blks", "block_size", "tasks_total", "tasks_active"])
        stats = self.rpc("GetRebuildStats", m.RebuildStatsRequest(uuid=U1, uri=b))
        self.assertEqual(stats.blocks_total, self.SIZE // 512)
        self.assertEqual(stats.block_size, 512)
        self.assertLess(stats.blocks_recovered, stats.blocks_total)
        self.assertEqual(lines[1].split()[:2], [str(stats.blocks_total), str(stats.blocks_recovered)])
        progress = self.cli_ok("-q", "rebuild", "progress", U1, b)
        self.assertLess(int(progress), 100)
        self.assertEqual(int(progress), stats.progress)
        self.assertEqual(self.cli_ok("-q", "nexus", "list").split()[3], "1")  # REBUILDS
        self.assertEqual(self.child(U1, b).state, m.CHILD_DEGRADED)
        self.assertGreaterEqual(self.child(U1, b).rebuild_progress, 0)
        self.assertEqual(self.cli_ok("-v", "rebuild", "resume", U1, b).splitlines()[-1], b)
        out = self.cli_ok("rebuild", "progress", "--follow", U1, b)
        lines = out.splitlines()
        self.assertTrue(lines and all(line.startswith("progress: ") for line in lines), out)
        self.assertEqual(lines[-1], "progress: 100%")
        percents = [int(line[len("progress: "):-1]) for line in lines]
        self.assertEqual(percents, sorted(percents))
        self.assertEqual(self.child(U1, b).state, m.CHILD_ONLINE)
        self.assertEqual(self.nexus(U1).rebuilds, 0)
        self.check_rebuilt(b)

    def test_stop_and_codes(self):
        m = self.m
        b = self.aio("b", self.SIZE)
        self.rpc("AddChildNexus", m.AddChildNexusRequest(uuid=U1, uri=b, norebuild=True))
        for kind, method in (("RebuildStateRequest", "GetRebuildState"), ("RebuildStatsRequest", "GetRebuildStats"),
                             ("RebuildProgressRequest", "GetRebuildProgress"),
                             ("PauseRebuildRequest", "PauseRebuild"), ("ResumeRebuildRequest", "ResumeRebuild")):
            self.assertCode(grpc.StatusCode.INTERNAL, method, self.rebuild_request(kind, U1, b))  # no job
            self.assertCode(grpc.StatusCode.NOT_FOUND, method, self.rebuild_request(kind, U2, b))
            self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, method, self.rebuild_request(kind, "x", b))
        self.assertCode(OK, "StopRebuild", m.StopRebuildRequest(uuid=U1, uri=b))
        self.assertCode(grpc.StatusCode.INTERNAL, "StartRebuild", m.StartRebuildRequest(uuid=U1, uri=self.a))
        self.assertCode(grpc.StatusCode.NOT_FOUND, "StartRebuild", m.StartRebuildRequest(uuid=U1, uri="aio:///x"))
        r = self.cli("rebuild", "state", U1, b)
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertIn("code: Internal", r.stderr)

        self.assertEqual(self.cli_ok("rebuild", "start", U1, b), "")
        self.assertEqual(self.cli_ok("rebuild", "pause", U1, b), "")
        # --follow while the job is paused, then stopped: it fails.
        follow = subprocess.Popen([it.CLIENT_BIN, "-b", self.daemon.endpoint, "rebuild", "progress", "-f", U1, b],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            first = follow.stdout.readline()
            self.assertTrue(first.startswith("progress: "), first)
            self.assertEqual(self.cli_ok("rebuild", "stop", U1, b), "")
            out, err = follow.communicate(timeout=30 * it.SLOW)
        finally:
            if follow.poll() is None:
                follow.kill()
                follow.wait()
        self.assertEqual(follow.returncode, 1, out + err)
        self.assertIn("ended without completing: the child is degraded", err)
        # Stopped: the job is gone, the child still out of sync.
        self.assertCode(grpc.StatusCode.INTERNAL, "GetRebuildState", m.RebuildStateRequest(uuid=U1, uri=b))
        self.assertEqual(self.nexus(U1).rebuilds, 0)
        self.assertEqual(self.child(U1, b).state, m.CHILD_DEGRADED)
        self.assertEqual(self.child(U1, b).rebuild_progress, -1)
        # Started again: it completes.
        self.rpc("StartRebuild", m.StartRebuildRequest(uuid=U1, uri=b))
        self.wait_child(U1, b, m.CHILD_ONLINE)
        self.check_rebuilt(b)

    def test_destroy_while_rebuilding(self):
        b = self.aio("b", self.SIZE)
        self.start_paused(b)
        self.rpc("ResumeRebuild", self.m.ResumeRebuildRequest(uuid=U1, uri=b))
        self.rpc("DestroyNexus", self.m.DestroyNexusRequest(uuid=U1))
        self.assertEqual(len(self.rpc("ListNexus").nexus_list), 0)
        self.assertEqual(len(self.rpc("List").bdevs), 0)


class CrashTest(NexusCase):
    SIZE = 256 * MiB

    def test_kill_during_rebuild_and_restart(self):
        m = self.m
        a, b = self.aio("a", self.SIZE), self.aio("b", self.SIZE)
        self.create(U1, self.SIZE, [a])
        data = {}
        for off in (0, 64 * MiB, self.SIZE - MiB):
            data[off] = blob(f"before-{off}", MiB)
            self.daemon.write(device(U1), off, data[off])
        # b joins out of sync; its rebuild is started and paused part-way.
        self.rpc("AddChildNexus", m.AddChildNexusRequest(uuid=U1, uri=b, norebuild=True))
        self.rpc("StartRebuild", m.StartRebuildRequest(uuid=U1, uri=b))
        self.rpc("PauseRebuild", m.PauseRebuildRequest(uuid=U1, uri=b))
        self.assertEqual(self.rpc("GetRebuildState", m.RebuildStateRequest(uuid=U1, uri=b)).state, "paused")
        self.assertLess(self.rpc("GetRebuildProgress", m.RebuildProgressRequest(uuid=U1, uri=b)).progress, 100)
        # Written during the rebuild: to both children.
        data[32 * MiB] = blob("during", MiB)
        self.daemon.write(device(U1), 32 * MiB, data[32 * MiB])
        self.assertEqual(it.read_file(self.path(b), 32 * MiB, MiB), data[32 * MiB])
        self.assertNotEqual(it.read_file(self.path(b), self.SIZE - MiB, MiB), data[self.SIZE - MiB])

        self.assertEqual(self.daemon.kill9(), -signal.SIGKILL)
        self.start_daemon()
        self.assertEqual(len(self.rpc("ListNexus").nexus_list), 0)
        # The store says b is stale: b alone cannot make the nexus, and nothing is left of the try.
        self.assertCode(grpc.StatusCode.INTERNAL, "CreateNexus",
                        m.CreateNexusRequest(uuid=U1, size=self.SIZE, children=[b]))
        self.assertEqual(len(self.rpc("ListNexus").nexus_list), 0)
        # With both (the stale one first): b comes up out of sync and is never read from.
        n = self.create(U1, self.SIZE, [b, a])
        states = {c.uri: c.state for c in n.children}
        self.assertEqual(states[a], m.CHILD_ONLINE)
        self.assertIn(states[b], (m.CHILD_DEGRADED, m.CHILD_ONLINE))
        for _ in range(4):  # round-robin reads would reach b if it were taken as current
            for off, expected in data.items():
                self.assertEqual(self.daemon.read(device(U1), off, MiB), expected, off)
        self.wait_child(U1, b, m.CHILD_ONLINE)
        for off, expected in data.items():
            self.assertEqual(it.read_file(self.path(b), off, MiB), expected, off)
        self.assertIs(it.files_equal(self.path(a), self.path(b), self.SIZE), True)
        # Once rebuilt, b is current: a clean restart brings the nexus up with both online.
        self.assertEqual(self.daemon.stop(), 0)
        self.start_daemon()
        n = self.create(U1, self.SIZE, [b, a])
        self.assertEqual([c.state for c in n.children], [m.CHILD_ONLINE] * 2)
        self.assertEqual(self.daemon.read(device(U1), self.SIZE - MiB, MiB), data[self.SIZE - MiB])


if __name__ == "__main__":
    unittest.main(verbosity=2)
