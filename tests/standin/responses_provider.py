"""A small stand-in for an OpenAI-compatible provider's Responses API, for tests and the demo.

It listens on loopback only, records every request it receives (one JSON object per line) and
answers the way the Codex CLI expects:

* ``POST <base>/responses``: a ``text/event-stream`` with ``response.created``,
  ``response.output_item.done`` (an assistant message carrying ``--reply``) and
  ``response.completed`` (with ``usage``).
* ``GET <base>/models``: a model list containing the model names passed with ``--model``.
* ``HEAD``/``GET`` of anything else: ``200`` with an empty JSON object.

Keys never reach the log or the command line: the ``Authorization`` header is recorded as
``Bearer sha256:<16 hex>``, the same fingerprint ``bytes4096.codex.codex_config`` returns as
``key_fingerprint``, and ``--accept FINGERPRINT`` (repeatable) makes it answer ``401`` to any other
bearer, so a test can tell a rotated key from a stale one. ``--accept-file FILE`` does the same
with one fingerprint per line, read again whenever the file changes, so a test can accept the old
and the new key during a rotation and then revoke the old one without a restart, the way a real
provider does. Like a real provider it accepts no key at all unless it was given some:
``--accept-any`` must be asked for explicitly. Only the Python standard library is used, so it
runs inside the test containers as it is.
"""

import argparse
import hashlib
import json
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def fingerprint(secret):
    return "sha256:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


def bearer_fingerprint(header):
    if not header or not header.startswith("Bearer "):
        return None
    return fingerprint(header[len("Bearer "):])


def sse_event(name, payload):
    return "event: {0}\ndata: {1}\n\n".format(name, json.dumps(payload)).encode("utf-8")


def response_stream(model, reply):
    response_id = "resp_" + uuid.uuid4().hex
    message = {
        "type": "message",
        "id": "msg_" + uuid.uuid4().hex,
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": reply, "annotations": []}],
    }
    created = {"id": response_id, "object": "response", "model": model, "status": "in_progress"}
    completed = dict(created, status="completed", output=[message], usage={
        "input_tokens": 8,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 1,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 9,
    })
    return b"".join([
        sse_event("response.created", {"type": "response.created", "response": created}),
        sse_event("response.output_item.done",
                  {"type": "response.output_item.done", "output_index": 0, "item": message}),
        sse_event("response.completed", {"type": "response.completed", "response": completed}),
    ])


class RecordingHandler(BaseHTTPRequestHandler):
    server_version = "codex-standin/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - signature fixed by the base class
        pass

    def _record(self, body):
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode("utf-8", "replace")
        headers = {name.lower(): value for name, value in self.headers.items()}
        if "authorization" in headers:
            headers["authorization"] = "Bearer {0}".format(bearer_fingerprint(headers["authorization"]))
        entry = {
            "time": time.time(),
            "method": self.command,
            "path": self.path,
            "headers": headers,
            "body": parsed,
        }
        with self.server.log_lock, open(self.server.log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps(entry) + "\n")

    def _read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status, content_type, payload):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _authorised(self):
        if self.server.accept_any:
            return True
        return bearer_fingerprint(self.headers.get("Authorization")) in self.server.accepted_now()

    def _handle(self):
        body = self._read_body()
        self._record(body)
        path = self.path.split("?", 1)[0].rstrip("/")
        if path.endswith("/responses") or path.endswith("/models"):
            if not self._authorised():
                presented = bearer_fingerprint(self.headers.get("Authorization"))
                error = {"error": {
                    "message": "stand-in provider: {0} is not an accepted key".format(
                        presented or "a request without Authorization"),
                    "type": "invalid_request_error", "code": "invalid_api_key"}}
                self._send(401, "application/json", json.dumps(error).encode("utf-8"))
                return
        if self.command == "POST" and path.endswith("/responses"):
            try:
                model = json.loads(body).get("model", "unknown")
            except (ValueError, AttributeError):
                model = "unknown"
            self._send(200, "text/event-stream", response_stream(model, self.server.reply))
        elif path.endswith("/models"):
            models = [{"id": name, "object": "model", "owned_by": "standin"} for name in self.server.models]
            self._send(200, "application/json", json.dumps({"object": "list", "data": models}).encode("utf-8"))
        else:
            self._send(200, "application/json", b"{}")

    do_GET = do_POST = do_HEAD = _handle


class AcceptList(object):
    """Accepted fingerprints: the --accept values plus the lines of --accept-file (re-read on change)."""

    def __init__(self, fixed, path):
        self.fixed = set(fixed)
        self.path = path
        self.lock = threading.Lock()
        self.stamp = None
        self.from_file = set()

    def __call__(self):
        if not self.path:
            return self.fixed
        with self.lock:
            try:
                info = os.stat(self.path)
                stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
            except OSError:
                stamp = None
            if stamp != self.stamp:
                self.stamp = stamp
                lines = []
                if stamp is not None:
                    with open(self.path, encoding="utf-8") as handle:
                        lines = handle.read().split()
                self.from_file = set(line for line in lines if line.startswith("sha256:"))
            return self.fixed | self.from_file


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--log", required=True, help="file that receives one JSON line per request")
    parser.add_argument("--reply", default="pong", help="assistant text of every response")
    parser.add_argument("--model", action="append", default=[], help="model name listed by /models")
    parser.add_argument("--accept", action="append", default=[], metavar="FINGERPRINT",
                        help="answer 401 unless the bearer key has this fingerprint (repeatable)")
    parser.add_argument("--accept-file", metavar="FILE",
                        help="accepted fingerprints, one per line, re-read whenever the file changes")
    parser.add_argument("--accept-any", action="store_true",
                        help="accept any key or none (never in a test that judges keys)")
    args = parser.parse_args(argv)
    if args.host not in LOOPBACK:
        parser.error("the stand-in provider only listens on loopback")
    if not (args.accept or args.accept_file or args.accept_any):
        parser.error("say which keys to accept: --accept FINGERPRINT, --accept-file FILE or --accept-any")

    server = ThreadingHTTPServer((args.host, args.port), RecordingHandler)
    server.daemon_threads = True
    server.log_path = args.log
    server.log_lock = threading.Lock()
    server.reply = args.reply
    server.models = args.model or ["gpt-5.5"]
    server.accept_any = args.accept_any
    server.accepted_now = AcceptList(args.accept, args.accept_file)
    open(args.log, "a").close()
    sys.stdout.write("stand-in provider on http://{0}:{1}\n".format(args.host, args.port))
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
