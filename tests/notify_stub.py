"""A small local stand-in for GOV.UK Notify's API, for testing receipts through the real client.

It checks the JWT the real client signs (HS256, iss = service id, recent iat), answers like Notify,
records every request (without the token), and can be told to fail, be slow, or be stopped.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt

TOKEN_BOUND_SECONDS = 30  # how far iat may be from now, as Notify allows


def make_api_key(name: str = "tracker_test") -> str:
    """A key in Notify's form: {key_name}-{service_id}-{secret}."""
    return f"{name}-{uuid.uuid4()}-{uuid.uuid4()}"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    headers: dict  # without the token
    body: object
    status: int = 0


@dataclass
class _Rule:
    remaining: int
    status: int | None = None
    message: str | None = None
    delay: float = 0.0


@dataclass
class NotifyStub:
    """Usage: `with NotifyStub(api_key, template_id) as stub:` then point the client at `stub.url`."""

    api_key: str
    template_id: str
    requests: list[Recorded] = field(default_factory=list)
    notifications: list[dict] = field(default_factory=list)
    other_template_ids: tuple[str, ...] = ()  # more templates the service has (reminders use two)

    def __post_init__(self) -> None:
        self.service_id = self.api_key[-73:-37]
        self.secret = self.api_key[-36:]
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []

    # --- control ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> NotifyStub:
        """Start (or start again, on the same port, after stop())."""
        stub = self

        class Handler(_Handler):
            pass

        Handler.stub = stub
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: the client then gets connection refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> NotifyStub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def fail_next(self, count: int, status: int, message: str | None = None) -> None:
        """Answer the next `count` requests with `status` (message may use {authorization}, the header sent)."""
        with self._lock:
            self._rules.append(_Rule(count, status=status, message=message))

    def delay_next(self, count: int, seconds: float) -> None:
        """Answer the next `count` requests only after `seconds` (then normally: Notify was just slow)."""
        with self._lock:
            self._rules.append(_Rule(count, delay=seconds))

    def emails(self) -> list[Recorded]:
        """The send-email requests received (whatever the answer)."""
        return [each for each in self.requests if each.method == "POST" and each.path == "/v2/notifications/email"]

    # --- behaviour -------------------------------------------------------------------------------

    def _next_rule(self) -> _Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.remaining > 0:
                    rule.remaining -= 1
                    return rule
        return None

    def check_token(self, authorization: str | None) -> str | None:
        """None when the token is good, else why not (as Notify would say)."""
        if not authorization or not authorization.startswith("Bearer "):
            return "Unauthorized: authentication token must be provided"
        token = authorization.removeprefix("Bearer ").strip()
        try:
            unverified = jwt.decode(token, options={"verify_signature": False}, algorithms=["HS256"])
        except jwt.PyJWTError:
            return "Invalid token: signature, api token not found"
        if unverified.get("iss") != self.service_id:
            return "Invalid token: service not found"
        try:
            claims = jwt.decode(token, key=self.secret, algorithms=["HS256"], options={"verify_iat": False})
        except jwt.PyJWTError:
            return "Invalid token: API key not found"
        if "iat" not in claims or abs(time.time() - int(claims["iat"])) > TOKEN_BOUND_SECONDS:
            return "Invalid token: iat field not provided or not recent"
        return None


def _error(status: int, kind: str, message: str) -> dict:
    return {"status_code": status, "errors": [{"error": kind, "message": message}]}


ERROR_KINDS = {400: "BadRequestError", 403: "AuthError", 429: "RateLimitError", 500: "Exception", 503: "Exception"}


class _Handler(BaseHTTPRequestHandler):
    stub: NotifyStub
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:  # noqa: A002 - quiet in tests
        pass

    def _answer(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _record(self) -> tuple[Recorded, str | None]:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", errors="replace")
        authorization = self.headers.get("Authorization")
        headers = {key: value for key, value in self.headers.items() if key.lower() != "authorization"}
        recorded = Recorded(self.command, parts.path, parse_qs(parts.query), headers, body)
        with self.stub._lock:
            self.stub.requests.append(recorded)
        return recorded, authorization

    def _handle(self, recorded: Recorded, authorization: str | None) -> tuple[int, dict]:
        stub = self.stub
        rule = stub._next_rule()
        if rule is not None and rule.delay:
            time.sleep(rule.delay)
        if rule is not None and rule.status is not None:
            message = (rule.message or "Internal server error").replace("{authorization}", authorization or "")
            return rule.status, _error(rule.status, ERROR_KINDS.get(rule.status, "Exception"), message)
        problem = stub.check_token(authorization)
        if problem is not None:
            return 403, _error(403, "AuthError", problem)
        if recorded.method == "GET" and recorded.path == "/v2/notifications":
            reference = (recorded.query.get("reference") or [None])[0]
            with stub._lock:
                found = [n for n in stub.notifications if reference is None or n["reference"] == reference]
            return 200, {"notifications": found, "links": {"current": f"{stub.url}/v2/notifications"}}
        if recorded.method == "POST" and recorded.path == "/v2/notifications/email":
            return self._send_email(recorded.body)
        return 404, _error(404, "NotFound", "Not Found")

    def _send_email(self, body: object) -> tuple[int, dict]:
        stub = self.stub
        if not isinstance(body, dict):
            return 400, _error(400, "BadRequestError", "Invalid JSON supplied in POST data")
        for key in ("email_address", "template_id"):
            if not body.get(key):
                return 400, _error(400, "ValidationError", f"{key} is a required property")
        if not isinstance(body.get("personalisation"), dict):
            return 400, _error(400, "ValidationError", "personalisation is a required property")
        address = str(body["email_address"])
        local, _, domain = address.partition("@")
        if not local or "." not in domain or any(c.isspace() for c in address):
            return 400, _error(400, "ValidationError", "email_address Not a valid email address")
        if body["template_id"] not in (stub.template_id, *stub.other_template_ids):
            return 400, _error(400, "BadRequestError", "Template not found")
        notification_id = str(uuid.uuid4())
        personalisation = body["personalisation"]
        answer = {
            "id": notification_id,
            "reference": body.get("reference"),
            "content": {
                "subject": f"Return received: {personalisation.get('reference', '')}",
                "body": "\n".join(f"{key}: {value}" for key, value in personalisation.items()),
                "from_email": "tracker@notifications.service.gov.uk",
                "one_click_unsubscribe_url": None,
            },
            "uri": f"{stub.url}/v2/notifications/{notification_id}",
            "template": {"id": body["template_id"], "version": 1,
                         "uri": f"{stub.url}/v2/template/{body['template_id']}"},
            "scheduled_for": None,
        }
        with stub._lock:
            stub.notifications.append({"id": notification_id, "reference": body.get("reference"), "type": "email"})
        return 201, answer

    def _serve(self) -> None:
        recorded, authorization = self._record()
        status, payload = self._handle(recorded, authorization)
        recorded.status = status
        try:
            self._answer(status, payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def do_GET(self) -> None:  # noqa: N802
        self._serve()
