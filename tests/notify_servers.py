"""Real receivers for notification tests: an HTTP server and an SMTP server with STARTTLS.

The HTTP server answers by path, so one server serves every test: `/ok/...` takes the
payload, `/fail/N/...` answers 500 to the first N requests on that path, `/always500/...`
always does, `/gone/...` answers 404, `/slow/...` answers only after the test releases it
(`release()`), which the timeout test never does before its client gives up.

The SMTP server is aiosmtpd's, requiring STARTTLS and a login, with a certificate made
for the test by the `openssl` CLI (no Python package for it is a declared dependency).
"""

from __future__ import annotations

import collections
import json
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Hooks:
    """What the HTTP server saw: each request in order, and how many per path."""

    url: str
    received: list[Received] = field(default_factory=list)
    hits: collections.Counter[str] = field(default_factory=collections.Counter)
    released: threading.Event = field(default_factory=threading.Event)

    def to(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


def start_hooks() -> tuple[Hooks, ThreadingHTTPServer]:
    hooks = Hooks(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hooks.hits[self.path] += 1
            hooks.received.append(Received(self.path, dict(self.headers), json.loads(body)))
            kind = self.path.split("/")[1]
            if kind == "slow":
                hooks.released.wait(30)
            fail = kind == "always500" or (
                kind == "fail" and hooks.hits[self.path] <= int(self.path.split("/")[2])
            )
            code = 404 if kind == "gone" else 500 if fail else 200
            # A 404 that quotes the path, as some services do: the token must not leak.
            said = f"no such hook {self.path}".encode() if code == 404 else b"ok"
            try:
                self.send_response(code)
                self.end_headers()
                self.wfile.write(said)
            except (BrokenPipeError, ConnectionResetError):
                pass  # a client that timed out (the /slow/ test) has gone

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    hooks.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return hooks, server


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and its key), valid for a day."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@dataclass
class Mailbox:
    port: int
    cert: Path
    messages: list[Message] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)


def start_smtp(folder: Path, *, user: str, password: str) -> tuple[Mailbox, Any]:
    """aiosmtpd on a free port: STARTTLS required, then AUTH with `user`/`password`."""
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = make_certificate(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    box = Mailbox(port=0, cert=cert)

    class Handler:
        async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
            box.messages.append(message_from_bytes(envelope.original_content, policy=default))
            return "250 OK"

    def authenticate(
        server: object, session: object, envelope: object, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            login = (data.login.decode(), data.password.decode())
            box.logins.append(login)
            ok = login == (user, password)
            return AuthResult(success=ok, handled=False, auth_data=login)
        return AuthResult(success=False, handled=False)

    with socket.socket() as probe:  # aiosmtpd checks its server by connecting to the port
        probe.bind(("127.0.0.1", 0))
        box.port = probe.getsockname()[1]
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=box.port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    return box, controller
