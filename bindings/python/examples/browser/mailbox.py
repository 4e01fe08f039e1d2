"""A tiny signalling server on 127.0.0.1: serves page.html and moves JSON messages between the
page (fetch) and Python (queues). Used by browser_echo.py and by the Chromium interop tests."""

from __future__ import annotations

import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PAGE = (Path(__file__).parent / "page.html").read_bytes()


class Mailbox:
    def __init__(self, config: dict, port: int = 0, page: bytes = PAGE):
        self.config = config
        self.to_page: queue.Queue = queue.Queue()
        self.from_page: queue.Queue = queue.Queue()
        self._stash: list[dict] = []
        mailbox = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _reply(self, body: bytes, content_type="application/json"):
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path == "/" or self.path.startswith("/?"):
                    self._reply(page, "text/html; charset=utf-8")
                elif self.path == "/config":
                    self._reply(json.dumps(mailbox.config).encode())
                elif self.path == "/to-page":
                    messages = []
                    try:
                        messages.append(mailbox.to_page.get(timeout=0.5))
                        while True:
                            messages.append(mailbox.to_page.get_nowait())
                    except queue.Empty:
                        pass
                    self._reply(json.dumps(messages).encode())
                else:
                    self.send_error(404)

            def do_POST(self):
                if not self.path.startswith("/from-page/"):
                    return self.send_error(404)
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                body["kind"] = self.path[len("/from-page/"):]
                mailbox.from_page.put(body)
                self._reply(b"{}")

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a browser going away mid-request is not our error

        self.server = Server(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/"

    def send(self, kind: str, **fields) -> None:
        self.to_page.put(dict(kind=kind, **fields))

    def receive(self, kind: str, timeout: float = 15.0) -> dict:
        """The next message of `kind` from the page; others are kept for later calls."""
        deadline = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self._stash):
                if m["kind"] == kind:
                    return self._stash.pop(i)
            if kind != "error":
                for m in self._stash:
                    if m["kind"] == "error":
                        raise RuntimeError("page error: " + m.get("message", "?"))
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no '{kind}' message from the page in {timeout} s")
            try:
                self._stash.append(self.from_page.get(timeout=min(left, 0.2)))
            except queue.Empty:
                pass

    def drain(self, kind: str) -> list[dict]:
        """Every message of `kind` received so far."""
        while True:
            try:
                self._stash.append(self.from_page.get_nowait())
            except queue.Empty:
                break
        taken = [m for m in self._stash if m["kind"] == kind]
        self._stash = [m for m in self._stash if m["kind"] != kind]
        return taken

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
