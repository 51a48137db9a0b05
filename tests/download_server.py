"""A download mirror on 127.0.0.1 for the download tests: it serves a folder's files steadily,
slowly, stalled or dying, by the first part of the path.

    with mirror(folder) as base:          # base = "http://127.0.0.1:PORT/"
        base + "steady/40000/" + name     # the whole file at 40,000 bytes per second
        base + "stall/1000/" + name       # 1,000 bytes, then nothing (the connection stays open)
        base + "die/1000/" + name         # 1,000 bytes, then the connection is closed
        base + "dribble/" + name          # one byte every 0.1 s
        base + "plain/" + name            # the whole file at once

Every response announces the file's whole size (Content-Length).  A handler that waits does so
for at most ``HOLD`` seconds, and stops as soon as the client goes away, so no test can hang on
it.  The server listens on the loopback address only.
"""
import contextlib
import http.server
import os
import threading
import time

HOLD = 30                    # seconds a stalled or dribbling response is held open at most


class _Handler(http.server.BaseHTTPRequestHandler):
    folder = None
    hits = None

    def do_GET(self):
        parts = self.path.strip("/").split("/")
        self.hits.append(self.path)
        mode, name = parts[0], parts[-1]
        path = os.path.join(self.folder, name)
        if not os.path.isfile(path):
            self.send_error(404)
            return
        with open(path, "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if mode == "plain":
                self.wfile.write(body)
            elif mode == "steady":                     # slow but steady: a tenth of the rate every 0.1 s
                rate = int(parts[1])
                step = max(1, rate // 10)
                for start in range(0, len(body), step):
                    self.wfile.write(body[start:start + step])
                    self.wfile.flush()
                    time.sleep(0.1)
            elif mode in ("stall", "die"):
                self.wfile.write(body[:int(parts[1])])
                self.wfile.flush()
                if mode == "stall":
                    self._hold(lambda: b"")
                self.close_connection = True
            elif mode == "dribble":
                self._hold(lambda i=iter(body): bytes([next(i, 0)]))
        except OSError:                                # the client gave up: as it should
            pass

    def _hold(self, next_bytes):
        """Keep the connection open, sending ``next_bytes()`` every 0.1 s, for at most HOLD seconds."""
        deadline = time.monotonic() + HOLD
        while time.monotonic() < deadline:
            chunk = next_bytes()
            if chunk:
                self.wfile.write(chunk)
                self.wfile.flush()
            time.sleep(0.1)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def mirror(folder):
    """Serve ``folder`` on 127.0.0.1; yields ``(base URL, list of the paths asked for)``."""
    hits = []
    handler = type("Handler", (_Handler,), {"folder": str(folder), "hits": hits})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", hits
    finally:
        httpd.shutdown()
        httpd.server_close()
