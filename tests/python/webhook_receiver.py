"""A webhook receiver for the end-to-end tests: verifies every delivery it gets with the Standard
Webhooks reference library (`standardwebhooks`, pinned in local/requirements.txt), never our code.

Listens on 127.0.0.1 (an OS-chosen port, printed as `PORT <n>`). A delivery's path names the endpoint;
its query says how to answer: `fail=N` answers 500 to the first N attempts of each webhook-id, then
204; `gone=1` answers 410; otherwise 204. `PUT /_secrets/<path>` with a JSON list of secrets registers
the secrets the endpoint's deliveries are checked with; `GET /_log` answers every delivery so far:
{path, id, timestamp, type, data, verified (one "ok" or the library's error per secret), status}.
Exits when its stdin closes (the test that started it ended)."""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

lock = threading.Lock()
secrets = {}
log = []
attempts = {}


class Receiver(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def body(self):
        return self.rfile.read(int(self.headers.get("content-length", "0")))

    def answer(self, status, payload=None):
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        url = urlsplit(self.path)
        with lock:
            secrets[url.path.removeprefix("/_secrets")] = json.loads(self.body())
        self.answer(200, {})

    def do_GET(self):
        with lock:
            self.answer(200, list(log))

    def do_POST(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        raw = self.body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        verified = []
        with lock:
            keys = list(secrets.get(url.path, []))
        for secret in keys:
            try:
                Webhook(secret).verify(raw, headers, json_parse=False)
                verified.append("ok")
            except WebhookVerificationError as e:
                verified.append(f"refused: {e}")
        event_id = headers.get("webhook-id", "")
        with lock:
            key = (url.path, event_id)
            attempts[key] = attempts.get(key, 0) + 1
            if "gone" in query:
                status = 410
            elif attempts[key] <= int(query.get("fail", ["0"])[0]):
                status = 500
            else:
                status = 204
            try:
                body = json.loads(raw)
            except ValueError:
                body = {}
            log.append({
                "path": url.path,
                "id": event_id,
                "timestamp": headers.get("webhook-timestamp"),
                "type": body.get("type"),
                "data": body.get("data"),
                "verified": verified,
                "status": status,
            })
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()


server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
print(f"PORT {server.server_address[1]}", flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
sys.stdin.read()
