#!/usr/bin/env python3
"""A small HTTP server for the download tests (Python 3 standard library only).

    httpd.py ROOT [--port-file FILE] [--control DIR] [--timeout SECONDS] [--parent PID]

Serves the files under ROOT on 127.0.0.1, on a free port: the port is printed
on stdout, and written (atomically) to FILE when --port-file is given. GET and
HEAD, with single byte ranges ("bytes=A-", "bytes=A-B", "bytes=-N"): 206 with
Content-Range, 416 with "Content-Range: bytes */SIZE" when A is past the end.
A missing file is a 404; a folder is served as its index.html. Path
components starting with "." or "_" are never served.

Behaviours per path, from a control file: the file CONTROL/<path> (CONTROL
defaults to ROOT/.ctl) holds one line, read on every request:

    normal          as above (the same as no control file)
    cut N [K]       the first K GETs (default 1) send the headers with the full
                    Content-Length, then only N bytes of the body, then close
                    the connection: the client sees a cut transfer. Later GETs
                    are normal (and honour Range).
    cut-always N    every GET is cut after N bytes of its body. A client that
                    resumes with Range gets N bytes further on each try.
    norange         ignore Range: always 200 with the whole file.
    status CODE     answer CODE (e.g. 404, 500) with a short body.
    slow RATE       send the body at about RATE bytes a second (honours Range),
                    so that two clients can be made to overlap.

The count of cut GETs starts again whenever the control file's content or
mtime changes, and at GET /_reset.

Endpoints: GET /_log returns {"requests": [...]}, one object per request in
order: method, path, range (the Range header or null), status, sent (body
bytes written), cut (bool). GET /_log?path=P keeps only path P. GET /_reset
empties the log and the cut counts.

It stops by itself: after --timeout seconds (default 600), or within a second
of its parent process, or of --parent PID, going away (the test script that
started it). It only listens on 127.0.0.1.
"""

import argparse
import json
import os
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
LOG = []  # one dict per request
CUTS = {}  # path -> (control signature, cut GETs done under it)


def parse_range(header, size):
    """(start, end) inclusive, None for 'whole file', or 'bad' for 416."""
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header or "")
    if not m or (m.group(1) == "" and m.group(2) == ""):
        return None  # unparsable or multi-range: ignored, as RFC 9110 allows
    first, last = m.group(1), m.group(2)
    if first == "":  # suffix: the last N bytes
        n = int(last)
        if n == 0:
            return "bad"
        return (max(0, size - n), size - 1)
    start = int(first)
    if start >= size:
        return "bad"
    end = size - 1 if last == "" else min(int(last), size - 1)
    if end < start:
        return "bad"
    return (start, end)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request a connection: a cut is a close
    server_version = "lxgpu-test-httpd"

    def log_message(self, fmt, *args):  # quiet: the test reads /_log
        pass

    def record(self, path, rng, status, sent, cut):
        with LOCK:
            LOG.append({"method": self.command, "path": path, "range": rng,
                        "status": status, "sent": sent, "cut": cut})

    def control(self, path):
        """(words, signature) of the path's control file."""
        f = os.path.join(self.server.control, path.lstrip("/"))
        try:
            st = os.stat(f)
            with open(f) as fh:
                text = fh.read().strip()
        except OSError:
            return ["normal"], None
        return (text.split() or ["normal"]), (text, st.st_mtime_ns)

    def simple(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return len(body) if self.command != "HEAD" else 0

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        rng = self.headers.get("Range")
        if path == "/_log":
            want = urllib.parse.parse_qs(url.query).get("path", [None])[0]
            with LOCK:
                reqs = [r for r in LOG if want is None or r["path"] == want]
            self.simple(200, json.dumps({"requests": reqs}).encode())
            return
        if path == "/_reset":
            with LOCK:
                LOG.clear()
                CUTS.clear()
            self.simple(200, b"reset\n")
            return

        parts = [p for p in path.split("/") if p]
        if any(p.startswith((".", "_")) for p in parts):
            self.record(path, rng, 404, self.simple(404, b"not served\n"), False)
            return
        words, sig = self.control(path)
        mode = words[0]
        if mode == "status":
            code = int(words[1])
            self.record(path, rng, code, self.simple(code, b"status %d\n" % code), False)
            return
        f = os.path.join(self.server.root, *parts)
        if os.path.isdir(f):
            # a folder is its index.html, as a web server's index page
            f = os.path.join(f, "index.html")
        if not os.path.isfile(f):
            self.record(path, rng, 404, self.simple(404, b"not found\n"), False)
            return
        with open(f, "rb") as fh:
            data = fh.read()
        size = len(data)

        cut_at = None
        if self.command == "GET" and mode in ("cut", "cut-always"):
            n = int(words[1])
            if mode == "cut-always":
                cut_at = n
            else:
                times = int(words[2]) if len(words) > 2 else 1
                with LOCK:
                    have_sig, done = CUTS.get(path, (sig, 0))
                    if have_sig != sig:
                        done = 0
                    if done < times:
                        cut_at = n
                        done += 1
                    CUTS[path] = (sig, done)

        r = None if mode == "norange" else parse_range(rng, size)
        if r == "bad":
            self.send_response(416)
            self.send_header("Content-Range", "bytes */%d" % size)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.record(path, rng, 416, 0, False)
            return
        if r is None:
            status, body = 200, data
            self.send_response(200)
        else:
            start, end = r
            status, body = 206, data[start:end + 1]
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "none" if mode == "norange" else "bytes")
        self.send_header("Content-Length", str(len(body)))  # the full length, even when cut
        self.end_headers()
        sent, cut = 0, False
        if self.command == "GET":
            if cut_at is not None and cut_at < len(body):
                body, cut = body[:cut_at], True
            try:
                if mode == "slow":
                    rate = max(1, int(words[1]))
                    step = max(1, rate // 20)
                    for i in range(0, len(body), step):
                        self.wfile.write(body[i:i + step])
                        self.wfile.flush()
                        sent += len(body[i:i + step])
                        time.sleep(step / rate)
                else:
                    self.wfile.write(body)
                    self.wfile.flush()
                    sent = len(body)
            except OSError:
                pass
        if cut:
            self.close_connection = True
        self.record(path, rng, status, sent, cut)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def watchdog(deadline, ppid, parent):
    while True:
        time.sleep(0.5)
        if time.monotonic() > deadline or os.getppid() != ppid or not alive(parent):
            os._exit(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root")
    ap.add_argument("--port-file")
    ap.add_argument("--control")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--parent", type=int, help="also stop when this process is gone")
    a = ap.parse_args()

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.root = os.path.abspath(a.root)
    srv.control = os.path.abspath(a.control or os.path.join(a.root, ".ctl"))
    port = srv.server_address[1]
    threading.Thread(target=watchdog, args=(time.monotonic() + a.timeout, os.getppid(),
                                              a.parent or os.getppid()),
                     daemon=True).start()
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as fh:
            fh.write("%d\n" % port)
        os.rename(tmp, a.port_file)
    print(port, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
