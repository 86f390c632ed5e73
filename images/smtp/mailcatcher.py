"""An SMTP catcher that answers the part of Mailpit's HTTP API the platform's checks read, so a
check written against Mailpit (compose's catcher elsewhere) runs unchanged against this one.

SMTP on 1025 keeps every message in memory; HTTP on 8025 serves
  GET /readyz                        200 once both listeners are up
  GET /api/v1/messages               {"total", "messages": [{ID, From, To, Subject, ...}]},
                                     newest first
  GET /api/v1/message/<ID>/raw       the message as received
  DELETE /api/v1/messages            forget every message
Standard library and aiosmtpd only (the image has no index to install more from).
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import json
import os
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

MESSAGES: list[dict[str, Any]] = []
LOCK = threading.Lock()


def _address(value: str) -> dict[str, str]:
    name, address = email.utils.parseaddr(value)
    return {"Name": name, "Address": address}


class Keep:
    """aiosmtpd handler: every accepted message is kept with its envelope."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        message = {
            "ID": uuid.uuid4().hex,
            "From": _address(str(parsed.get("From", envelope.mail_from))),
            "To": [{"Name": "", "Address": rcpt} for rcpt in envelope.rcpt_tos],
            "Subject": str(parsed.get("Subject", "")),
            "Created": datetime.now(UTC).isoformat(),
            "ReturnPath": envelope.mail_from,
            "raw": raw,
        }
        with LOCK:
            MESSAGES.append(message)
        return "250 Message accepted for delivery"


class Api(BaseHTTPRequestHandler):
    def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/readyz" or self.path == "/livez":
            self._send(200, b"ok", "text/plain")
        elif self.path.startswith("/api/v1/messages"):
            with LOCK:
                listed = [{k: v for k, v in m.items() if k != "raw"} for m in reversed(MESSAGES)]
            body = {"total": len(listed), "messages_count": len(listed), "messages": listed}
            self._send(200, json.dumps(body).encode())
        elif self.path.startswith("/api/v1/message/") and self.path.endswith("/raw"):
            wanted = self.path.split("/")[4]
            with LOCK:
                found = [m["raw"] for m in MESSAGES if m["ID"] == wanted]
            if found:
                self._send(200, found[0], "message/rfc822")
            else:
                self._send(404, b'{"error": "no such message"}')
        else:
            self._send(404, b'{"error": "not found"}')

    def do_DELETE(self) -> None:
        if self.path == "/api/v1/messages":
            with LOCK:
                MESSAGES.clear()
            self._send(200, b"ok", "text/plain")
        else:
            self._send(404, b'{"error": "not found"}')

    def log_message(self, format: str, *args: Any) -> None:
        pass  # probes every 2 s would fill the log


def main() -> None:
    smtp_port = int(os.environ.get("MP_SMTP_PORT", "1025"))
    http_port = int(os.environ.get("MP_UI_PORT", "8025"))
    everywhere = "0.0.0.0"  # noqa: S104 (a container's own interface; the engine publishes it)
    controller = Controller(Keep(), hostname=everywhere, port=smtp_port)
    controller.start()
    print(f"mailcatcher: SMTP on {smtp_port}, Mailpit-style API on {http_port}", flush=True)
    try:
        ThreadingHTTPServer((everywhere, http_port), Api).serve_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
