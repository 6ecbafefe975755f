#!/usr/bin/env python3
"""A stand-in for livelog's issue-12 server side, for developing and testing
the viewer page (assets/viewer/) before the daemon serves it.

DEV ONLY: delete this file once the daemon serves `GET /view/<token>` and
Server-Sent Events on `GET /log/<token>`; the browser tests then start the
real binary instead.

It behaves like the daemon where the viewer and its tests can tell:
  * environment: ACCESS_TOKEN (required), LIVELOG_PUT_PORT (60022),
    LIVELOG_GET_PORT (60023), LIVELOG_HEARTBEAT_SECS (15); port 0 picks one;
  * prints livelog's ready line (`... put=ADDR get=ADDR tls=off`) on stderr;
  * `PUT /log` on the upload port (chunked or Content-Length); a body that
    ends before its end is a broken upload;
  * `GET /log/<token>` with `Accept: text/event-stream`: the SSE contract of
    issue 12 (retry, log events with byte-offset ids, UTF-8 held back across
    chunks, heartbeats, end event, Last-Event-ID or ?from= resume, 204 at the
    end of a finished log, 400 for a bad offset); without it, the raw bytes
    (chunked, cut short if the upload broke); HEAD with Content-Length once
    the log is complete;
  * `GET /view/<token>`: the page, assembled and served exactly as
    assets/viewer/README.md tells the daemon to.
Extra knob: MOCK_EVENT_BYTES, the most bytes one event carries (default 65536).
Any trailing arguments are ignored (the test harness passes the binary's path).
It never prints the token or a URL that holds it.
"""

import base64
import hashlib
import json
import os
import signal
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent.parent / "assets" / "viewer"


def sha256_b64(text):
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def viewer_page():
    """The page and its CSP, built as assets/viewer/README.md specifies."""
    index = (ASSETS / "index.html").read_text()
    css = (ASSETS / "viewer.css").read_text()
    js = (ASSETS / "viewer.js").read_text()
    page = index.replace("<!--viewer.css-->", "<style>" + css + "</style>", 1).replace(
        "<!--viewer.js-->", "<script>" + js + "</script>", 1
    )
    csp = (
        "default-src 'none'; "
        f"script-src 'sha256-{sha256_b64(js)}'; "
        f"style-src 'sha256-{sha256_b64(css)}'; "
        "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'"
    )
    return page.encode(), csp


class Log:
    def __init__(self):
        self.data = bytearray()
        self.state = None  # None: live (or not started); True: complete; False: broken
        self.uploading = False
        self.cond = threading.Condition()

    def append(self, chunk):
        with self.cond:
            self.data += chunk
            self.cond.notify_all()

    def finish(self, complete):
        with self.cond:
            self.state = complete
            self.cond.notify_all()


LOG = Log()
TOKEN = b""
HEARTBEAT = 15.0
EVENT_BYTES = 65536


def utf8_safe_end(data, start, end):
    """The largest cut <= end that does not split a UTF-8 sequence at its end."""
    k = end - 1
    back = 0
    while k >= start and back < 3 and (data[k] & 0xC0) == 0x80:
        k -= 1
        back += 1
    if k < start:
        return end
    lead = data[k]
    need = 1 if lead < 0x80 else 2 if lead >> 5 == 6 else 3 if lead >> 4 == 14 else 4 if lead >> 3 == 30 else 1
    return k if end - k < need else end


class Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # the default logs the path, token included
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)


class Upload(Quiet):
    def do_PUT(self):
        if self.path != "/log":
            return self.reply(404, b"not found\n")
        with LOG.cond:
            if LOG.uploading:
                return self.reply(409, b"conflict: a log was uploaded already\n")
            LOG.uploading = True
        complete = False
        try:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                while True:
                    line = self.rfile.readline(1024)
                    if not line:
                        break
                    size = int(line.split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                            pass
                        complete = True
                        break
                    chunk = self.rfile.read(size)
                    if chunk:
                        LOG.append(chunk)
                    if len(chunk) < size:
                        break
                    self.rfile.readline(16)
            else:
                left = int(self.headers.get("Content-Length", "0"))
                while left > 0:
                    chunk = self.rfile.read1(min(left, 65536))
                    if not chunk:
                        break
                    LOG.append(chunk)
                    left -= len(chunk)
                complete = left == 0
        except (OSError, ValueError):
            complete = False
        LOG.finish(complete)
        if complete:
            self.reply(201, f"created: stored {len(LOG.data)} bytes\n".encode())
        else:
            self.close_connection = True


class Readers(Quiet):
    def do_HEAD(self):
        self.do_GET()

    def token_ok(self, raw):
        return urllib.parse.unquote_to_bytes(raw) == TOKEN

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        for prefix, handler in (("/log/", self.log), ("/view/", self.view)):
            if url.path.startswith(prefix):
                if not self.token_ok(url.path[len(prefix):]):
                    return self.reply(401, b"Access denied\n", [("Access-Control-Allow-Origin", "*")])
                return handler(url)
        self.reply(404, b"not found: the log is at /log/<ACCESS_TOKEN>\n")

    def view(self, url):
        page, csp = viewer_page()
        self.reply(
            200,
            page,
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Security-Policy", csp),
                ("Referrer-Policy", "no-referrer"),
                ("X-Content-Type-Options", "nosniff"),
                ("X-Frame-Options", "DENY"),
                ("Cross-Origin-Opener-Policy", "same-origin"),
                ("Cross-Origin-Resource-Policy", "same-origin"),
                ("Cache-Control", "no-store"),
            ],
        )

    def log(self, url):
        if "text/event-stream" in self.headers.get("Accept", "") and self.command == "GET":
            return self.sse(url)
        with LOG.cond:
            state, length = LOG.state, len(LOG.data)
        base = [("Content-Type", "text/plain; charset=utf-8"), ("Access-Control-Allow-Origin", "*"),
                ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")]
        if self.command == "HEAD" or state is True:
            if state is True:
                return self.reply(200, bytes(LOG.data), base)
            self.send_response(200)
            for k, v in base:
                self.send_header(k, v)
            self.end_headers()
            return
        self.send_response(200)
        for k, v in base + [("Transfer-Encoding", "chunked"), ("Connection", "close")]:
            self.send_header(k, v)
        self.end_headers()
        self.close_connection = True
        pos = 0
        try:
            while True:
                with LOG.cond:
                    LOG.cond.wait_for(lambda: len(LOG.data) > pos or LOG.state is not None)
                    chunk, state = bytes(LOG.data[pos:pos + (1 << 20)]), LOG.state
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    pos += len(chunk)
                    continue
                if state:
                    self.wfile.write(b"0\r\n\r\n")
                return  # broken: no last chunk, so the client sees a cut
        except OSError:
            return

    def sse(self, url):
        start = self.headers.get("Last-Event-ID")
        if start is None:
            start = urllib.parse.parse_qs(url.query).get("from", ["0"])[0]
        start = start.strip()
        if not start.isdigit() or not start.isascii():
            return self.reply(400, b"bad request: Last-Event-ID (or from) must be a byte offset\n")
        pos = int(start)
        with LOG.cond:
            if LOG.state is True and pos >= len(LOG.data):
                return self.reply(204)
        self.send_response(200)
        for k, v in [("Content-Type", "text/event-stream"), ("Cache-Control", "no-store"),
                     ("Access-Control-Allow-Origin", "*"), ("Connection", "close")]:
            self.send_header(k, v)
        self.end_headers()
        self.close_connection = True
        try:
            self.wfile.write(b"retry: 2000\n\n")
            while True:
                with LOG.cond:
                    def ready():
                        end = len(LOG.data)
                        if LOG.state is not None:
                            return True
                        return end > pos and utf8_safe_end(LOG.data, pos, end) > pos
                    if not LOG.cond.wait_for(ready, timeout=HEARTBEAT):
                        self.wfile.write(b": heartbeat\n\n")
                        continue
                    state, length = LOG.state, len(LOG.data)
                    end = min(len(LOG.data), pos + EVENT_BYTES)
                    cut = utf8_safe_end(LOG.data, pos, end)
                    if state is not None and end == len(LOG.data):
                        cut = end  # the log is over: nothing more will complete it
                    elif cut == pos:
                        cut = end  # invalid bytes, not an unfinished character
                    chunk = bytes(LOG.data[pos:cut])
                if chunk:
                    pos = cut
                    text = chunk.decode("utf-8", "replace")
                    event = "event: log\nid: %d\ndata: %s\n\n" % (pos, json.dumps(text, ensure_ascii=False))
                    self.wfile.write(event.encode())
                    continue
                end_data = json.dumps({"complete": state is True, "length": length})
                self.wfile.write(("event: end\ndata: %s\n\n" % end_data).encode())
                return
        except OSError:
            return


def serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main():
    global TOKEN, HEARTBEAT, EVENT_BYTES
    token = os.environ.get("ACCESS_TOKEN")
    if not token:
        sys.exit("mock livelog: ACCESS_TOKEN is required")
    TOKEN = token.encode()
    HEARTBEAT = float(os.environ.get("LIVELOG_HEARTBEAT_SECS", "15"))
    EVENT_BYTES = int(os.environ.get("MOCK_EVENT_BYTES", "65536"))
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 128
    put = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("LIVELOG_PUT_PORT", "60022"))), Upload)
    get = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("LIVELOG_GET_PORT", "60023"))), Readers)
    serve(put)
    serve(get)
    p, g = put.server_address, get.server_address
    print(f"mock livelog ready: put={p[0]}:{p[1]} get={g[0]}:{g[1]} tls=off", file=sys.stderr, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()


if __name__ == "__main__":
    main()
