#!/usr/bin/python3
"""Runs the `mayastor-client` transcript in README.md verbatim against the real daemon and
compares every command's stdout with the README byte for byte.

The only substitutions: /dev/loop8 becomes a free loop device, /tmp/disk a scratch file,
`sudo ` is dropped (the test runs as root), and `mayastor-client` is this build's binary
pointed at a daemon on a free port. Needs root (losetup).

Usage: transcript_test.py   (environment: see mayastor_it.py)
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

import mayastor_it as it


def transcript(readme):
    """The fenced block that holds `$ mayastor-client pool create`: [(command, stdout)]."""
    text = open(readme).read()
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
        if "$ mayastor-client pool create" not in block:
            continue
        steps = []
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append([line[2:], ""])
            elif steps:
                steps[-1][1] += line + "\n"
        return steps
    raise AssertionError(f"no transcript in {readme}")


def main():
    if not it.have_root():
        print("transcript_test: needs root for losetup", file=sys.stderr)
        return 1
    steps = transcript(os.path.join(it.SOURCE_DIR, "README.md"))
    d = tempfile.mkdtemp(prefix="ms-transcript-")
    daemon = it.Daemon(d)
    loop = subprocess.run(["losetup", "-f"], check=True, capture_output=True, text=True).stdout.strip()
    disk = os.path.join(d, "disk")
    attached = False
    failures = 0
    try:
        daemon.start()
        for command, expected in steps:
            cmd = command.replace("/dev/loop8", loop).replace("/tmp/disk", disk)
            cmd = re.sub(r"^sudo ", "", cmd)
            expected = expected.replace("/dev/loop8", loop)
            argv = shlex.split(cmd)
            if argv[0] == "mayastor-client":
                argv = [it.CLIENT_BIN, "-b", daemon.endpoint] + argv[1:]
            r = subprocess.run(argv, capture_output=True, text=True, timeout=60 * it.SLOW)
            if argv[0] == "losetup":
                attached = r.returncode == 0
            ok = r.returncode == 0 and (r.stdout == expected or argv[0] == "dd")
            print(f"{'ok  ' if ok else 'FAIL'} $ {command}")
            if not ok:
                failures += 1
                print(f"  exit {r.returncode}\n  expected stdout:\n{expected!r}\n  got stdout:\n{r.stdout!r}\n"
                      f"  stderr:\n{r.stderr}")
        rc = daemon.stop()
        if rc != 0:
            print(f"FAIL: daemon exit status {rc}\n{daemon.log()}")
            failures += 1
    finally:
        if daemon.proc:
            daemon.kill9()
        if attached:
            subprocess.run(["losetup", "-d", loop], check=False)
        shutil.rmtree(d, ignore_errors=True)
    print("transcript_test:", "OK" if failures == 0 else f"{failures} step(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
