#!/usr/bin/env python3
"""mkldcache.py OUT < LINES: write a glibc ld.so.cache ("glibc-ld.so.cache1.1")
from "soname path" lines, for fake hosts (scripts/mkhost's `ldcache`). Entries
are x86-64 libc6 ones (flags 0x0303). Layout: glibc's dl-cache.h, as
src/inventory/ldcache.c reads it."""
import struct
import sys

entries = [line.split() for line in sys.stdin if line.strip() and not line.startswith("#")]
header_len, entry_len = 48, 24
strings = b""
offsets = []
base = header_len + entry_len * len(entries)
for soname, path in entries:
    k = base + len(strings)
    strings += soname.encode() + b"\0"
    v = base + len(strings)
    strings += path.encode() + b"\0"
    offsets.append((k, v))
out = b"glibc-ld.so.cache" + b"1.1"
out += struct.pack("<IIB3sI12s", len(entries), len(strings), 0, b"\0" * 3, 0, b"\0" * 12)
assert len(out) == header_len
for k, v in offsets:
    out += struct.pack("<iIIIQ", 0x0303, k, v, 0, 0)
out += strings
with open(sys.argv[1], "wb") as f:
    f.write(out)
