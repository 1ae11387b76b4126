"""Shared helpers of the integration tests: start the real `mayastor` daemon on free ports,
talk to it with a third-party gRPC client (Debian's python3-grpcio, stubs generated here from
proto/mayastor.proto with protoc), and make loop devices and disk files.

Environment (set by tests/CMakeLists.txt): MAYASTOR_BIN, MAYASTOR_CLIENT_BIN, MS_SOURCE_DIR. Run with Debian's /usr/bin/python3 (it has the grpc module).
"""

import base64
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import grpc

SOURCE_DIR = os.environ.get("MS_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
MAYASTOR_BIN = os.environ.get("MAYASTOR_BIN", "mayastor")
CLIENT_BIN = os.environ.get("MAYASTOR_CLIENT_BIN", "mayastor-client")
# Sanitizer builds start and run slower.
SLOW = int(os.environ.get("MS_SLOW_FACTOR", "1"))

_pb2 = None


def pb2():
    """The generated message module of proto/mayastor.proto (generated once per process)."""
    global _pb2
    if _pb2 is None:
        out = tempfile.mkdtemp(prefix="ms-pb2-")
        subprocess.run(
            ["protoc", f"--python_out={out}", f"-I{SOURCE_DIR}/proto", f"{SOURCE_DIR}/proto/mayastor.proto"],
            check=True,
        )
        sys.path.insert(0, out)
        _pb2 = importlib.import_module("mayastor_pb2")
    return _pb2


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Rpc:
    """Calls `/mayastor.<Service>/<Method>` on a channel; the reply type is looked up in the
    generated module by the name the fact sheet gives."""

    REPLIES = {
        "CreatePool": "Pool",
        "DestroyPool": "Null",
        "ListPools": "ListPoolsReply",
        "CreateReplica": "Replica",
        "DestroyReplica": "Null",
        "ListReplicas": "ListReplicasReply",
        "StatReplicas": "StatReplicasReply",
        "ShareReplica": "ShareReplicaReply",
        "CreateReplicaSnapshot": "ReplicaSnapshot",
        "DestroyReplicaSnapshot": "Null",
        "ListReplicaSnapshots": "ListReplicaSnapshotsReply",
        "CreateReplicaClone": "Replica",
        "ListBlockDevices": "ListBlockDevicesReply",
        "GetResourceUsage": "GetResourceUsageReply",
        "CreateNexus": "Nexus",
        "DestroyNexus": "Null",
        "ListNexus": "ListNexusReply",
        "AddChildNexus": "Child",
        "RemoveChildNexus": "Null",
        "FaultNexusChild": "Null",
        "PublishNexus": "PublishNexusReply",
        "UnpublishNexus": "Null",
        "GetNvmeAnaState": "GetNvmeAnaStateReply",
        "SetNvmeAnaState": "Null",
        "CreateSnapshot": "CreateSnapshotReply",
        "ChildOperation": "Null",
        "StartRebuild": "Null",
        "StopRebuild": "Null",
        "PauseRebuild": "Null",
        "ResumeRebuild": "Null",
        "GetRebuildState": "RebuildStateReply",
        "GetRebuildStats": "RebuildStatsReply",
        "GetRebuildProgress": "RebuildProgressReply",
        "ListNvmeControllers": "ListNvmeControllersReply",
        "List": "Bdevs",
        "Create": "CreateReply",
        "Destroy": "Null",
        "Share": "BdevShareReply",
        "Unshare": "Null",
        "JsonRpcCall": "JsonRpcReply",
    }
    SERVICE = {"List": "BdevRpc", "Create": "BdevRpc", "Destroy": "BdevRpc", "Share": "BdevRpc",
               "Unshare": "BdevRpc", "JsonRpcCall": "JsonRpc"}

    def __init__(self, target):
        self.channel = grpc.insecure_channel(target)

    def close(self):
        self.channel.close()

    def __call__(self, method, request=None, timeout=60 * SLOW):
        m = pb2()
        if request is None:
            request = m.Null()
        reply_type = getattr(m, self.REPLIES[method])
        service = self.SERVICE.get(method, "Mayastor")
        call = self.channel.unary_unary(
            f"/mayastor.{service}/{method}",
            request_serializer=lambda r: r.SerializeToString(),
            response_deserializer=reply_type.FromString,
        )
        return call(request, timeout=timeout)

    def code(self, method, request=None):
        """The status code of the call (OK when it succeeds)."""
        try:
            self(method, request)
            return grpc.StatusCode.OK
        except grpc.RpcError as e:
            return e.code()


class Daemon:
    """One `mayastor` process on free ports, in its own scratch directory."""

    def __init__(self, workdir, extra_args=(), pools_file=True, env=None):
        self.workdir = workdir
        self.port = free_port()
        self.endpoint = f"127.0.0.1:{self.port}"
        self.socket = os.path.join(workdir, "mayastor.sock")
        self.pools_file = os.path.join(workdir, "pools.yaml") if pools_file else None
        # NVMe-oF/TCP ports of its own, kept across restarts (URIs of shared replicas stay valid).
        self.nvmf_port = free_port()
        self.nvmf_nexus_port = free_port()
        self.nbd_port = free_port()
        self.extra_args = list(extra_args)
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.rpc = None
        self.stderr_path = os.path.join(workdir, "mayastor.stderr")

    def args(self):
        a = [MAYASTOR_BIN, "-g", self.endpoint, "-r", self.socket, "-N", "it-node"]
        if self.pools_file:
            a += ["-P", self.pools_file]
        if "--store-dir" not in self.extra_args and "-p" not in self.extra_args:
            # Each daemon its own store (nexus child health), never the system-wide default.
            a += ["--store-dir", os.path.join(self.workdir, "store")]
        if "--nvmf-port" not in self.extra_args:
            a += ["--nvmf-address", "127.0.0.1", "--nvmf-port", str(self.nvmf_port),
                  "--nvmf-nexus-port", str(self.nvmf_nexus_port)]
        if "--nbd-port" not in self.extra_args:
            a += ["--nbd-address", "127.0.0.1", "--nbd-port", str(self.nbd_port)]
        return a + self.extra_args

    def start(self, timeout=30):
        self.stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(self.args(), stdout=subprocess.DEVNULL, stderr=self.stderr, env=self.env)
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"mayastor exited with {self.proc.returncode} at start:\n{self.log()}")
            # A fresh channel per attempt: a channel that failed to connect waits out gRPC's
            # reconnect backoff (1 s, 1.6 s, ...) before it tries again.
            rpc = Rpc(self.endpoint)
            try:
                rpc("ListPools", timeout=2)
                self.rpc = rpc
                return self
            except grpc.RpcError:
                rpc.close()
                time.sleep(0.02)
        raise AssertionError(f"mayastor not serving within {timeout} s:\n{self.log()}")

    def log(self):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()[-6000:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Stops the daemon and returns its exit status."""
        if self.proc is None:
            return None
        if self.rpc:
            self.rpc.close()
            self.rpc = None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"mayastor did not stop within {timeout} s after {sig}:\n{self.log()}")
        self.proc = None
        self.stderr.close()
        return rc

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def jsonrpc(self, method, params=None):
        """One JSON-RPC 2.0 call on the daemon's Unix socket; returns (result, error)."""
        req = {"jsonrpc": "2.0", "id": 1, "method": method}
        if params is not None:
            req["params"] = params
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(60 * SLOW)
            s.connect(self.socket)
            s.sendall(json.dumps(req).encode())
            buf = b""
            dec = json.JSONDecoder()
            while True:
                chunk = s.recv(1 << 20)
                if not chunk:
                    raise AssertionError(f"JSON-RPC socket closed without a reply to {method}")
                buf += chunk
                try:
                    reply, _ = dec.raw_decode(buf.decode())
                    break
                except ValueError:
                    continue
        return reply.get("result"), reply.get("error")

    def write(self, device, offset, data):
        result, error = self.jsonrpc(
            "bdev_write", {"name": device, "offset": offset, "data": base64.b64encode(data).decode()})
        if error:
            raise AssertionError(f"bdev_write {device}@{offset}: {error}")

    def fill(self, device, offset, length, pattern):
        """Writes `length` bytes (at most 1 MiB) of `pattern` (a byte value or a string repeated)."""
        result, error = self.jsonrpc(
            "bdev_write", {"name": device, "offset": offset, "pattern": pattern, "length": length})
        if error:
            raise AssertionError(f"bdev_write {device}@{offset}: {error}")

    def read(self, device, offset, length):
        result, error = self.jsonrpc("bdev_read", {"name": device, "offset": offset, "length": length})
        if error:
            raise AssertionError(f"bdev_read {device}@{offset}+{length}: {error}")
        return base64.b64decode(result)


def client(endpoint, *args, timeout=60):
    """Runs mayastor-client against `endpoint`; returns the CompletedProcess (text)."""
    return subprocess.run([CLIENT_BIN, "-b", endpoint, *args], capture_output=True, text=True,
                          timeout=timeout * SLOW)


def wait_for(predicate, timeout=60, what="condition"):
    """Polls `predicate` until it returns a true value (returned), at most `timeout` seconds."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout * SLOW} s waiting for {what}")
        time.sleep(0.02)


def read_file(path, offset, length):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)


def files_equal(a, b, size, chunk=4 << 20):
    """Whether the first `size` bytes of files `a` and `b` are equal; the first differing offset
    (a multiple of `chunk`) otherwise, as a string, for the assertion message."""
    with open(a, "rb") as fa, open(b, "rb") as fb:
        for off in range(0, size, chunk):
            n = min(chunk, size - off)
            if fa.read(n) != fb.read(n):
                return f"{a} and {b} differ in the {n} bytes at {off}"
    return True


def make_disk_file(path, size):
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def have_root():
    return os.geteuid() == 0
