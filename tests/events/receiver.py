"""A webhook receiver for the tests: a real HTTP server on loopback, answering each POST
with the next scripted status (then 200), and keeping every request it got."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int
    """What the receiver answered."""

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    url: str
    statuses: list[int] = field(default_factory=list)
    """Answered in turn; 200 once they are used up."""
    delay: float = 0.0
    """Seconds before answering the first request (a worker can be killed meanwhile)."""
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [request.event for request in self.requests]

    def accepted(self) -> list[dict[str, Any]]:
        """The events answered 2xx, each once, in the order they were."""
        with self.lock:
            requests = list(self.requests)
        events, seen = [], set()
        for request in requests:
            if request.status == 200 and request.headers["webhook-id"] not in seen:
                seen.add(request.headers["webhook-id"])
                events.append(request.event)
        return events


@contextmanager
def receiving(statuses: list[int] | None = None, delay: float = 0.0) -> Iterator[Receiver]:
    receiver = Receiver(url="", statuses=list(statuses or []), delay=delay)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with receiver.lock:
                first = not receiver.requests
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.requests.append(Received(dict(self.headers.items()), body, status))
            if first and receiver.delay:
                time.sleep(receiver.delay)
            answer = b"x" * 5000 if status >= 500 else b'{"ok": true}'
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
