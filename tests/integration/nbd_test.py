#!/usr/bin/python3
"""Sharing over NBD in the real `mayastor` daemon, checked with clients we did not write:
a replica shared with `mayastor-client bdev share -p nbd` read and written by nbdinfo, nbdcopy,
qemu-img, qemu-io and fio's nbd engine; the share restored after SIGTERM and after kill -9; a
shared replica refused as a pool disk and as a nexus child, nothing written; a client sending
garbage disconnected while the others are served; and a nexus mirroring onto an nbd:// child
on `nbdkit memory` (the child then holds what was written, read back with nbdcopy).

Each daemon has its own free gRPC, NVMe-oF and NBD ports (mayastor_it.Daemon).

Usage: nbd_test.py [unittest args]   (environment: see mayastor_it.py)
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import unittest

import grpc

import mayastor_it as it
from mayastor_it import pb2

MiB = 1 << 20
U1 = "6f3c2a1e-9b4d-4e7a-8c5f-0d1e2f3a4b5c"


def run(*args, timeout=120):
    """Runs a third-party tool; returns its CompletedProcess (text), failing on a non-zero exit."""
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout * it.SLOW)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {r.returncode}: {r.stderr}{r.stdout}")
    return r


def have(tool):
    return shutil.which(tool) is not None


class NbdCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ms-nbd-")
        self.m = pb2()
        self.daemons = []
        self.procs = []

    def tearDown(self):
        try:
            for p in self.procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            for d in self.daemons:
                if d.proc is not None:
                    rc = d.stop()
                    self.assertEqual(rc, 0, f"daemon exit status after SIGTERM\n{d.log()}")
        finally:
            for d in self.daemons:
                if d.proc is not None:
                    d.kill9()
            shutil.rmtree(self.dir, ignore_errors=True)

    def daemon(self, name="a"):
        work = os.path.join(self.dir, name)
        os.makedirs(work)
        d = it.Daemon(work).start()
        self.daemons.append(d)
        return d

    def pool_and_replica(self, d, size=32 * MiB):
        path = it.make_disk_file(os.path.join(d.workdir, "p0.img"), 128 * MiB)
        d.rpc("CreatePool", self.m.CreatePoolRequest(name="p0", disks=["aio://" + path]))
        d.rpc("CreateReplica", self.m.CreateReplicaRequest(uuid="r1", pool="p0", size=size))

    def cli(self, d, *args):
        r = it.client(d.endpoint, *args)
        self.assertEqual(r.returncode, 0, f"mayastor-client {' '.join(args)}: {r.stderr}")
        return r.stdout

    def code(self, d, method, request):
        return d.rpc.code(method, request)


@unittest.skipUnless(have("nbdinfo") and have("nbdcopy"), "needs libnbd-bin (nbdinfo, nbdcopy)")
class ShareTest(NbdCase):
    def test_replica_over_nbd_with_third_party_clients(self):
        d = self.daemon()
        self.pool_and_replica(d)
        uri = self.cli(d, "-v", "bdev", "share", "r1", "-p", "nbd").splitlines()[-1]
        self.assertEqual(uri, f"nbd://127.0.0.1:{d.nbd_port}/r1")
        listed = [b for b in d.rpc("List").bdevs if b.name == "r1"][0]
        self.assertEqual((listed.share_uri, listed.claimed_by), (uri, "nbd share"))
        self.assertEqual(int(run("nbdinfo", "--size", uri).stdout), 32 * MiB)

        # nbdcopy in, nbdcopy out, compare; the daemon's own read agrees.
        image = os.path.join(self.dir, "in.img")
        with open(image, "wb") as f:
            f.write(os.urandom(32 * MiB))
        run("nbdcopy", image, uri)
        out = os.path.join(self.dir, "out.img")
        run("nbdcopy", uri, out)
        self.assertIs(it.files_equal(image, out, 32 * MiB), True)
        self.assertEqual(d.read("r1", 5 * MiB, 64 * 1024), it.read_file(image, 5 * MiB, 64 * 1024))
        if have("qemu-img"):
            run("qemu-img", "compare", "-f", "raw", "-F", "raw", image, uri)
        if have("qemu-io"):
            run("qemu-io", "-f", "raw", "-c", "write -P 0x5a 1M 256k", "-c", "read -P 0x5a 1M 256k", uri)
            self.assertEqual(d.read("r1", 1 * MiB, 4096), b"\x5a" * 4096)
        if have("fio"):
            run("fio", "--name=verify", "--ioengine=nbd", f"--uri={uri}", "--rw=randwrite", "--bs=4k",
                "--iodepth=16", "--size=8M", "--offset=16M", "--verify=crc32c", "--do_verify=1",
                "--verify_state_save=0", "--output-format=terse")
        run("nbdcopy", uri, out)
        expected = out  # what the export holds now, checked again after each restart

        # The share is stored on the replica and restored: after SIGTERM and after kill -9.
        for how in ("SIGTERM", "SIGKILL"):
            self.assertEqual(d.stop(signal.SIGTERM if how == "SIGTERM" else signal.SIGKILL),
                             0 if how == "SIGTERM" else -signal.SIGKILL)
            d.start()
            self.assertEqual(int(run("nbdinfo", "--size", uri).stdout), 32 * MiB, how)
            again = os.path.join(self.dir, f"after-{how}.img")
            run("nbdcopy", uri, again)
            self.assertIs(it.files_equal(expected, again, 32 * MiB), True, how)

        # Unshared (CLI): the export is gone, the claim released.
        self.cli(d, "bdev", "unshare", "r1")
        r = subprocess.run(["nbdinfo", "--size", uri], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        listed = [b for b in d.rpc("List").bdevs if b.name == "r1"][0]
        self.assertEqual((listed.share_uri, listed.claimed_by), ("bdev:///r1", "Orphaned"))

    def test_shared_replica_cannot_be_taken(self):
        d = self.daemon()
        self.pool_and_replica(d)
        d.fill("r1", 0, 65536, 0x33)
        self.cli(d, "bdev", "share", "r1", "-p", "nbd")
        self.assertEqual(self.code(d, "CreatePool", self.m.CreatePoolRequest(name="p1", disks=["bdev:///r1"])),
                         grpc.StatusCode.FAILED_PRECONDITION)
        self.assertEqual(self.code(d, "CreateNexus",
                                   self.m.CreateNexusRequest(uuid=U1, size=8 * MiB, children=["bdev:///r1"])),
                         grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(self.code(d, "ShareReplica", self.m.ShareReplicaRequest(uuid="r1", share=1)),
                         grpc.StatusCode.OK)  # ShareReplica moves it to NVMe-oF (it may: it owns the share)
        self.assertEqual(d.read("r1", 0, 65536), b"\x33" * 65536)
        self.assertEqual([p.name for p in d.rpc("ListPools").pools], ["p0"])
        self.assertEqual(len(d.rpc("ListNexus").nexus_list), 0)

    def test_garbage_client_is_disconnected_and_others_are_served(self):
        d = self.daemon()
        self.pool_and_replica(d)
        uri = self.cli(d, "-v", "bdev", "share", "r1", "-p", "nbd").splitlines()[-1]
        with socket.create_connection(("127.0.0.1", d.nbd_port), timeout=10) as s:
            s.recv(18)  # the server's greeting
            s.sendall(b"\xff" * 4096)
            s.settimeout(10)
            try:
                while s.recv(4096):
                    pass
            except ConnectionResetError:
                pass
        self.assertEqual(int(run("nbdinfo", "--size", uri).stdout), 32 * MiB)


@unittest.skipUnless(have("nbdkit") and have("nbdcopy"), "needs nbdkit and libnbd-bin")
class ChildTest(NbdCase):
    def test_nexus_mirrors_onto_nbdkit(self):
        d = self.daemon()
        port = it.free_port()
        p = subprocess.Popen(["nbdkit", "--foreground", "--exit-with-parent", "-i", "127.0.0.1", "-p", str(port),
                              "memory", "64M"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(p)
        child = f"nbd://127.0.0.1:{port}/"
        it.wait_for(lambda: subprocess.run(["nbdinfo", "--size", child], capture_output=True).returncode == 0,
                    what="nbdkit to serve")
        n = d.rpc("CreateNexus", self.m.CreateNexusRequest(
            uuid=U1, size=32 * MiB, children=["malloc:///m0?size_mb=64", child]))
        self.assertEqual(n.state, self.m.NEXUS_ONLINE)
        data = os.urandom(1 * MiB)
        d.write(f"nexus-{U1}", 2 * MiB, data)
        self.assertEqual(d.read(f"nexus-{U1}", 2 * MiB, len(data)), data)
        # Both children hold the same blocks (the nexus keeps its data at the same offsets on each).
        image = os.path.join(self.dir, "nbdkit.img")
        run("nbdcopy", child, image)
        malloc = d.read("m0", 0, 1 * MiB)
        for off in range(0, 32 * MiB, 1 * MiB):
            self.assertEqual(it.read_file(image, off, 1 * MiB), d.read("m0", off, 1 * MiB), off)
        self.assertIn(data, it.read_file(image, 0, 8 * MiB))
        del malloc
        d.rpc("DestroyNexus", self.m.DestroyNexusRequest(uuid=U1))


if __name__ == "__main__":
    unittest.main()
