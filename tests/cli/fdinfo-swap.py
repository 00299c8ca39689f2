#!/usr/bin/env python3
"""fdinfo-swap.py READY TARGET=NEXT...: the second sample of the DRM tests
(tests/cli/top.sh). Once every TARGET (a fake /proc/PID/fdinfo/FD) has been
read and closed, as inotify reports it (IN_CLOSE_NOWRITE on its directory),
each NEXT is renamed over its TARGET: lxgpu then reads the first sample's
files in its first sample, and NEXT in its second. Creates READY once its
watches are set; exits 0 when it has swapped, 1 when 30 s went by first."""
import ctypes
import os
import select
import struct
import sys
import time

IN_CLOSE_NOWRITE = 0x10
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
if fd < 0:
    sys.exit("inotify_init1: " + os.strerror(ctypes.get_errno()))
pending, dirs = {}, {}
for pair in sys.argv[2:]:
    target, nxt = pair.split("=", 1)
    d, name = os.path.split(target)
    if d not in dirs.values():
        wd = libc.inotify_add_watch(fd, d.encode(), IN_CLOSE_NOWRITE)
        if wd < 0:
            sys.exit(d + ": " + os.strerror(ctypes.get_errno()))
        dirs[wd] = d
    pending[(d, name)] = nxt
open(sys.argv[1], "w").close()
left, deadline = set(pending), time.monotonic() + 30
while left and time.monotonic() < deadline:
    if not select.select([fd], [], [], 0.2)[0]:
        continue
    buf, i = os.read(fd, 65536), 0
    while i < len(buf):
        wd, _, _, n = struct.unpack_from("iIII", buf, i)
        left.discard((dirs.get(wd), buf[i + 16 : i + 16 + n].rstrip(b"\0").decode()))
        i += 16 + n
if left:
    sys.exit("never read: " + " ".join(os.path.join(*k) for k in sorted(left)))
for (d, name), nxt in pending.items():
    os.replace(nxt, os.path.join(d, name))
