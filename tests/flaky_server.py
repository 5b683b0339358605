"""A fault-injecting HTTP file server on 127.0.0.1 for fetch and audit tests.

Faults are scripted: ``script`` is consumed one action per request across all paths; ``per_path`` gives
each path its own list, consumed by that path's requests. Actions: '503', '429' (with Retry-After: 0),
'reset' (half the body, then the connection is shut), 'short' (full Content-Length, 60% of the body, close),
'trickle' (the body in 20 small pieces with pauses), 'ok'. Range requests are honoured (206).
"""
from __future__ import annotations

import http.server
import threading
import time
from collections import defaultdict


class FlakyServer:
    def __init__(self, root, script=(), per_path=None, default_per_path=()):
        self.root = root
        self.script = list(script)
        self.per_path = defaultdict(lambda: list(default_per_path), {k: list(v) for k, v in (per_path or {}).items()})
        self.requests: list[tuple[str, str | None, str]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _empty(self, status, extra=()):
                self.send_response(status)
                for k, v in extra:
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                with server.lock:
                    queue = server.per_path[self.path]
                    action = queue.pop(0) if queue else (server.script.pop(0) if server.script else "ok")
                    server.requests.append((self.path, self.headers.get("Range"), action))
                path = server.root / self.path.lstrip("/")
                if action in ("503", "429"):
                    return self._empty(int(action), [("Retry-After", "0")])
                if not path.is_file():
                    return self._empty(404)
                data = path.read_bytes()
                start = 0
                rng = self.headers.get("Range")
                if rng:
                    start = int(rng.split("=")[1].rstrip("-"))
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if action in ("reset", "short"):
                    self.wfile.write(body[: len(body) // 2 if action == "reset" else len(body) * 6 // 10])
                    self.wfile.flush()
                    self.close_connection = True
                    if action == "reset":
                        self.connection.shutdown(2)
                    return
                if action == "trickle":
                    step = max(1, len(body) // 20)
                    for k in range(0, len(body), step):
                        self.wfile.write(body[k:k + step])
                        self.wfile.flush()
                        time.sleep(0.005)
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
