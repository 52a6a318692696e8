"""A real HTTP server on loopback that answers each request with the next scripted answer
and keeps what it was sent: for the client's retries, which the service itself cannot be
made to provoke on cue."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OPERATION = {
    "id": "6f1c0d6e-8e57-4b8e-9a55-9f0c2f7c1a11",
    "kind": "order",
    "status": "queued",
    "number": "4915170000001",
    "tenant": None,
    "attempts": 0,
    "error": None,
    "created_at": "2026-11-30T10:00:00Z",
    "updated_at": "2026-11-30T10:00:00Z",
}


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    url: str
    answers: list[Answer]
    """Answered in turn; the last one again once they are used up."""
    requests: list[Seen] = field(default_factory=list)


def error(status: int, code: str, **headers: str) -> Answer:
    return Answer(status, {"status": status, "code": code, "message": code}, headers)


@contextmanager
def serving(*answers: Answer, port: int = 0) -> Iterator[Server]:
    server = Server(url="", answers=list(answers))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                server.requests.append(
                    Seen(self.command, self.path, dict(self.headers.items()), body)
                )
                answer = server.answers.pop(0) if len(server.answers) > 1 else server.answers[0]
            content = json.dumps(answer.body).encode()
            self.send_response(answer.status)
            for name, value in {"Content-Type": "application/json", **answer.headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

        def log_message(self, *_: Any) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.url = f"http://127.0.0.1:{http.server_address[1]}"
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        http.shutdown()
        http.server_close()
