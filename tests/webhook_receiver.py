"""A real HTTP receiver on loopback for webhook tests: records every POST and answers
with scripted statuses (200 once the script is used up)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: Message  # case-insensitive
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    port: int
    #: (status, extra headers) answered in turn; then 200.
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def events(self) -> list[Any]:
        with self.lock:
            return [r.json for r in self.received if r.path == "/hooks"]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with receiver.lock:
                receiver.received.append(Received(self.path, self.headers, body))
                status, headers = receiver.script.pop(0) if receiver.script else (200, {})
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            answer = b"ok" if status < 300 else b"x" * 3000  # a long body is cut to 1 KB
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serving(receiver: Receiver | None = None, port: int = 0) -> Iterator[Receiver]:
    """Serve on 127.0.0.1 (`port`, or a free one) until the block ends."""
    receiver = receiver or Receiver(port)
    server = ThreadingHTTPServer(("127.0.0.1", port or receiver.port), _handler(receiver))
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
