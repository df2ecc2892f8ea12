"""A local, stateful fake of the few Stripe endpoints the payments feature calls, for tests.

Drive it through the real SDK (`FakeStripe.client()` builds a `stripe.StripeClient` the way the
gateway does) and steer it from the test with plain methods: `succeed_payment`, `fail_payment`,
`complete_onboarding`, `add_platform_balance`, `fail_next`. It follows Stripe where the SDK or the
gateway can tell the difference: form-encoded bodies, `Bearer sk_test_...` auth, error bodies and
statuses (so the SDK raises InvalidRequestError, IdempotencyError, APIError, AuthenticationError),
list objects with `has_more`, and idempotency keys (same key and parameters: the stored response is
replayed with `Idempotent-Replayed: true`; same key with other parameters or another endpoint:
400 idempotency_error). Objects and rules live in fake_stripe_state.py.
"""
import copy
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple
from urllib.parse import parse_qsl, unquote, urlsplit

import stripe

from tests.payments.fake_stripe_state import API_VERSION, State, StripeFault, invalid, nest

FAULT_KINDS = ("timeout", "slow", "5xx", "5xx_after", "hold")
_RETRIEVABLE = {"payment_intents": "payment_intent", "refunds": "refund", "accounts": "account",
                "transfers": "transfer"}


class RecordedRequest(NamedTuple):
    """One request the server received (compares equal to a plain `(method, path, key)` tuple)."""

    method: str
    path: str
    idempotency_key: str | None


@dataclass
class _Reply:
    status: int
    body: bytes
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    release: threading.Event | None = None
    hold: bool = False


@dataclass
class _Stored:
    path: str
    params: tuple
    status: int
    body: bytes


def _json(obj) -> bytes:
    return json.dumps(obj).encode()


class FakeStripe:
    """A Stripe API on 127.0.0.1 with test-side controls; thread-safe (one lock around all state)."""

    def __init__(self, webhook_secret: str = "whsec_test", timeout_delay_s: float = 2.0, slow_delay_s: float = 0.3,
                 clock=time.time):
        self.webhook_secret = webhook_secret
        self.timeout_delay_s = timeout_delay_s
        self.slow_delay_s = slow_delay_s
        self._lock = threading.RLock()
        self._state = State(clock)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._release = threading.Event()
        self._held, self._unhold = threading.Event(), threading.Event()
        self._clear_http_state()

    def _clear_http_state(self) -> None:
        self._requests: list[RecordedRequest] = []
        self._log: list[dict] = []
        self._stored: dict[tuple[str, str], _Stored] = {}  # (api key, Idempotency-Key) -> first response
        self._faults: list[list] = []  # [method, path prefix, kind, times left, requests still let through]
        self._request_ids = 0

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> "FakeStripe":
        """Start serving on a free port of 127.0.0.1 in a daemon thread."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-stripe", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; replies held back by an injected timeout or hold are released at once."""
        self._release.set()
        self._unhold.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self) -> "FakeStripe":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Return the base address, `http://127.0.0.1:PORT`."""
        if self._server is None:
            raise RuntimeError("FakeStripe is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def reset(self) -> None:
        """Forget all objects, events, requests, idempotency keys and pending faults."""
        with self._lock:
            self._state.reset()
            self._clear_http_state()
            self._release.set()  # let replies still held from an earlier test go
            self._release = threading.Event()
            self._unhold.set()
            self._held, self._unhold = threading.Event(), threading.Event()

    def client(self, api_key: str = "sk_test_fake", max_network_retries: int = 2,
               timeout: float = 0.5) -> stripe.StripeClient:
        """Build a StripeClient aimed at this server, configured the way the production gateway is."""
        return stripe.StripeClient(api_key, base_addresses={"api": self.url, "connect": self.url},
                                   max_network_retries=max_network_retries,
                                   http_client=stripe.RequestsClient(timeout=timeout))

    # -- test-side controls -----------------------------------------------------------------------

    def succeed_payment(self, pi_id: str) -> dict:
        """Move the PaymentIntent to succeeded (charge + balance) and return payment_intent.succeeded."""
        with self._lock:
            return self._state.succeed_payment(pi_id)

    def forget_idempotency_keys(self) -> None:
        """Forget every stored Idempotency-Key, as Stripe does after 24 hours."""
        with self._lock:
            self._stored.clear()

    def refunds_start_pending(self, pending: bool = True) -> None:
        """Make new refunds start as pending (they settle or fail later) instead of succeeded."""
        with self._lock:
            self._state.refund_status = "pending" if pending else "succeeded"

    def fail_refund(self, refund_id: str) -> dict:
        """Fail a pending refund and return the refund.updated event."""
        with self._lock:
            return self._state.fail_refund(refund_id)

    def refund_from_dashboard(self, pi_id: str, amount: int) -> dict:
        """Refund at Stripe without our API (as from the Dashboard); return the charge.refunded event."""
        with self._lock:
            self._state.create_refund({"payment_intent": pi_id, "amount": str(amount)}, None)
            return self._state.events[-1]

    def fail_payment(self, pi_id: str, message: str = "Your card was declined.") -> dict:
        """Record a declined attempt on the PaymentIntent and return payment_intent.payment_failed."""
        with self._lock:
            return self._state.fail_payment(pi_id, message)

    def complete_onboarding(self, acct_id: str) -> dict:
        """Enable charges and payouts on the Connect account and return account.updated."""
        with self._lock:
            return self._state.complete_onboarding(acct_id)

    def add_platform_balance(self, amount: int, currency: str = "usd") -> None:
        """Add to the platform's available balance (no balance transaction is recorded)."""
        with self._lock:
            currency = currency.lower()
            self._state.available[currency] = self._state.available.get(currency, 0) + amount

    def platform_balance(self, currency: str = "usd") -> int:
        """Return the platform's available balance in this currency."""
        with self._lock:
            return self._state.available.get(currency.lower(), 0)

    def advance_clock(self, seconds: int) -> None:
        """Move the fake's clock forward, so later objects get later `created` times."""
        with self._lock:
            self._state.offset += seconds

    def signed(self, event: dict, timestamp: int | None = None) -> tuple[bytes, str]:
        """Return the event as a webhook body and its Stripe-Signature header (signed with webhook_secret)."""
        payload = json.dumps(event)
        header = stripe.WebhookSignature.generate_signature_header(payload, self.webhook_secret, timestamp)
        return payload.encode(), header

    def fail_next(self, method: str, path_prefix: str, kind: str, times: int = 1, after: int = 0) -> None:
        """Make the next `times` matching requests fail: "timeout" (performed, answered after `timeout_delay_s`),
        "slow" (answered after `slow_delay_s`, within a client's timeout), "5xx" (not performed), "5xx_after"
        (performed, then a 500) or "hold" (performed, answered when the test lets it go); the first `after`
        matching requests are answered normally."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {FAULT_KINDS}, not {kind!r}")
        with self._lock:
            self._faults.append([method.upper(), path_prefix, kind, times, after])

    @property
    def events(self) -> list[dict]:
        """Return every event generated so far, oldest first."""
        with self._lock:
            return copy.deepcopy(self._state.events)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Return every request received, as (method, path, idempotency_key), oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def request_log(self) -> list[dict]:
        """Return every request with its parameters, headers, answer status and injected fault (if any)."""
        with self._lock:
            return copy.deepcopy(self._log)

    def objects(self, kind: str) -> list[dict]:
        """Return every object of this kind ("transfer", "charge", "account_link", ...), oldest first."""
        with self._lock:
            return self._state.objects(kind)

    def transfers_with_key(self, key: str) -> list[dict]:
        """Return the transfers actually created by requests carrying this Idempotency-Key."""
        with self._lock:
            return [t for t in self._state.objects("transfer") if self._state.key_of.get(t["id"]) == key]

    # -- request handling (called from server threads) --------------------------------------------

    def _handle(self, method: str, raw_path: str, headers, body: bytes) -> _Reply:
        split = urlsplit(raw_path)
        path = split.path
        form = split.query if method == "GET" else body.decode("utf-8", "replace")
        pairs = tuple(sorted(parse_qsl(form, keep_blank_values=True)))
        key = headers.get("Idempotency-Key") if method == "POST" else None
        with self._lock:
            self._request_ids += 1
            self._requests.append(RecordedRequest(method, path, key))
            entry = {"method": method, "path": path, "params": dict(pairs), "headers": dict(headers.items())}
            self._log.append(entry)
            reply = self._answer(method, path, pairs, key, headers.get("Authorization", ""), entry)
            entry["status"] = reply.status
            reply.headers.update({"Request-Id": f"req_{self._request_ids:06d}", "Content-Type": "application/json",
                                  "Stripe-Version": headers.get("Stripe-Version") or API_VERSION})
            if key:
                reply.headers["Idempotency-Key"] = key
            reply.release = self._release
            return reply

    def _answer(self, method, path, pairs, key, authorization, entry) -> _Reply:
        api_key = authorization[len("Bearer "):] if authorization.startswith("Bearer ") else ""
        if not api_key.startswith("sk_test_"):
            message = (f"Invalid API Key provided: {api_key[:8]}***" if api_key else
                       "You did not provide an API key. Provide it in the Authorization header (Bearer auth).")
            return _Reply(401, _json({"error": {"type": "invalid_request_error", "message": message}}))
        fault = entry["fault"] = self._take_fault(method, path)
        if fault == "5xx":
            return self._server_error()
        reply = self._perform(method, path, pairs, key, api_key)
        if fault == "5xx_after":
            return self._server_error()
        if fault in ("timeout", "slow"):
            reply.delay = self.timeout_delay_s if fault == "timeout" else self.slow_delay_s
        reply.hold = fault == "hold"
        return reply

    def wait_until_held(self, timeout: float = 120.0) -> bool:
        """Block until a "hold" request was performed and its reply is being held back."""
        return self._held.wait(timeout)

    def let_held_go(self) -> None:
        """Send the held reply (to whoever still listens)."""
        self._unhold.set()

    def _take_fault(self, method, path):
        for rule in self._faults:
            if rule[0] == method and path.startswith(rule[1]) and rule[3] > 0:
                if rule[4] > 0:
                    rule[4] -= 1
                    return None
                rule[3] -= 1
                if rule[3] == 0:
                    self._faults.remove(rule)
                return rule[2]
        return None

    @staticmethod
    def _server_error() -> _Reply:
        body = {"error": {"type": "api_error", "message": "An unknown error occurred (injected by FakeStripe)."}}
        return _Reply(500, _json(body))

    def _perform(self, method, path, pairs, key, api_key) -> _Reply:
        stored = self._stored.get((api_key, key)) if key else None
        if stored is not None:
            if stored.path != path:
                return self._idempotency_error(
                    f"Keys for idempotent requests can only be used for the same endpoint they were first used "
                    f"for ('{path}' vs '{stored.path}'). Try using a key other than '{key}' if you meant to "
                    "execute a different request.")
            if stored.params != pairs:
                return self._idempotency_error(
                    "Keys for idempotent requests can only be used with the same parameters they were first "
                    f"used with. Try using a key other than '{key}' if you meant to execute a different request.")
            return _Reply(stored.status, stored.body, {"Idempotent-Replayed": "true"})
        try:
            status, body, keep = 200, _json(self._dispatch(method, path, nest(pairs), key)), True
        except StripeFault as fault:
            status, body, keep = fault.status, _json(fault.body()), fault.stored
        if key and keep:
            self._stored[(api_key, key)] = _Stored(path, pairs, status, body)
        return _Reply(status, body)

    @staticmethod
    def _idempotency_error(message) -> _Reply:
        return _Reply(400, _json({"error": {"type": "idempotency_error", "message": message}}))

    def _dispatch(self, method, path, params, key) -> dict:
        s = self._state
        if method == "POST":
            creators = {"/v1/payment_intents": s.create_payment_intent, "/v1/refunds": s.create_refund,
                        "/v1/accounts": s.create_account, "/v1/transfers": s.create_transfer,
                        "/v1/account_links": lambda p, key: s.create_account_link(p, self.url, key)}
            if path in creators:
                return creators[path](params, key)
        elif method == "GET":
            lists = {"/v1/transfers": s.list_transfers, "/v1/refunds": s.list_refunds,
                     "/v1/balance_transactions": s.list_balance_transactions,
                     "/v1/balance": s.balance}
            if path in lists:
                return lists[path](params)
            match = re.fullmatch(r"/v1/(payment_intents|refunds|accounts|transfers)/([^/]+)", path)
            if match:
                if params:
                    name = next(iter(params))
                    raise invalid(f"Received unknown parameter: {name}", "parameter_unknown", name)
                return s.find(_RETRIEVABLE[match[1]], unquote(match[2]))
        raise invalid(f"Unrecognized request URL ({method}: {path}).", status=404)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's requests session expects
    disable_nagle_algorithm = True  # headers and body go out in two writes; no 40 ms delayed-ACK stall

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_DELETE(self):
        self._serve("DELETE")

    def _serve(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            reply = self.server.fake._handle(method, self.path, self.headers, body)
        except Exception as exc:  # a bug in the fake: say so instead of dropping the connection
            error = {"type": "api_error", "message": f"FakeStripe crashed: {exc!r}"}
            reply = _Reply(500, _json({"error": error}), {"Stripe-Should-Retry": "false"})
        if reply.delay:
            reply.release.wait(reply.delay)  # the client has given up by now; stop() or reset() cut it short
            self.close_connection = True
        if reply.hold:  # Stripe has acted; the caller hears nothing until the test says so
            self.server.fake._held.set()
            self.server.fake._unhold.wait(120)
            self.close_connection = True
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:  # the client hung up (after a timeout)
            self.close_connection = True

    def log_message(self, *args):
        pass
