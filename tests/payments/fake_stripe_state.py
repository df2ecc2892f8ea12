"""The fake Stripe's objects and rules: payment intents, refunds, Connect accounts, transfers, balance, events.

No HTTP and no locking here: `FakeStripe` (fake_stripe.py) parses requests, holds the lock and calls in.
Handlers take Stripe's nested parameters (`{"metadata": {"payout_id": "7"}}`, all values strings as
form-encoded) and return the object to answer with, or raise `StripeFault`.
"""
import copy
import re
import secrets
import time

import stripe

API_VERSION = stripe.api_version
REFUND_REASONS = {"duplicate", "fraudulent", "requested_by_customer"}
LINK_TYPES = {"account_onboarding", "account_update"}


class StripeFault(Exception):
    """An error the fake answers with: an HTTP status and Stripe's `{"error": {...}}` body.

    `stored` marks errors a request produced while executing (business rules), which Stripe saves
    under the idempotency key and replays; validation errors are not saved.
    """

    def __init__(self, status, message, type="invalid_request_error", code=None, param=None, stored=False):
        super().__init__(message)
        self.status, self.stored = status, stored
        error = {"type": type, "message": message, "code": code, "param": param}
        self.error = {k: v for k, v in error.items() if v is not None}

    def body(self) -> dict:
        """Return the JSON body Stripe sends for this error."""
        return {"error": dict(self.error)}


def invalid(message, code=None, param=None, stored=False, status=400) -> StripeFault:
    """Build an invalid_request_error fault."""
    return StripeFault(status, message, code=code, param=param, stored=stored)


def nest(pairs) -> dict:
    """Turn form pairs like ("metadata[payout_id]", "7") into Stripe's nested parameters."""
    out: dict = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise invalid(f"Invalid hash: {key}", "parameter_invalid_hash", parts[0])
        if isinstance(node.get(parts[-1]), dict):
            raise invalid(f"Invalid value for {key}", "parameter_invalid_string", parts[0])
        node[parts[-1]] = value
    return out


def known(params, allowed):
    """Reject parameters the endpoint does not take, as Stripe does."""
    for name in params:
        if name not in allowed:
            raise invalid(f"Received unknown parameter: {name}", "parameter_unknown", name)


def _required(params, name):
    if params.get(name) in (None, ""):
        raise invalid(f"Missing required param: {name}.", "parameter_missing", name)
    return params[name]


def _integer(params, name, required=False, minimum=None):
    if params.get(name) in (None, "") and not required:
        return None
    raw = _required(params, name)
    if not isinstance(raw, str) or not re.fullmatch(r"-?[0-9]+", raw):
        raise invalid(f"Invalid integer: {raw}", "parameter_invalid_integer", name)
    value = int(raw)
    if minimum is not None and value < minimum:
        raise invalid(f"This value must be greater than or equal to {minimum}.", "parameter_invalid_integer", name)
    return value


def _string(params, name, required=False, choices=None):
    value = _required(params, name) if required else params.get(name) or None
    if value is not None and (not isinstance(value, str) or (choices and value not in choices)):
        raise invalid(f"Invalid {name}: {value!r}", "parameter_invalid_string", name)
    return value


def _currency(params):
    value = _string(params, "currency", required=True)
    if len(value) != 3 or not value.isalpha():
        raise invalid(f"Invalid currency: {value}.", "parameter_invalid_string", "currency")
    return value.lower()


def _metadata(params):
    raw = params.get("metadata", {})
    if raw == "":
        return {}
    if not isinstance(raw, dict) or any(not isinstance(v, str) for v in raw.values()):
        raise invalid("Invalid object", "parameter_invalid_object", "metadata")
    return {k: v for k, v in raw.items() if v != ""}


def _created_filter(params):
    raw = params.get("created")
    if raw is None:
        return lambda created: True
    bounds = raw if isinstance(raw, dict) else {"eq": raw}
    tests = {"eq": int.__eq__, "gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__}
    checks = []
    for op, value in bounds.items():
        if op not in tests:
            raise invalid(f"Received unknown parameter: created[{op}]", "parameter_unknown", f"created[{op}]")
        checks.append((tests[op], _integer(bounds, op, required=True)))
    return lambda created: all(test(created, bound) for test, bound in checks)


class State:
    """Every object the fake holds, the platform balance and the generated events."""

    def __init__(self, clock=time.time):
        self._clock = clock
        self.reset()

    def reset(self) -> None:
        """Forget every object, balance, event and counter."""
        self.offset = 0
        self.by_id: dict[str, dict] = {}
        self.ordered: list[dict] = []  # every object (account links have no id), in creation order
        self.seq: dict[str, int] = {}  # id -> creation sequence, the tie-break for "newest first"
        self.key_of: dict[str, str] = {}  # id -> Idempotency-Key of the request that created it
        self.counters: dict[str, int] = {}
        self.available: dict[str, int] = {}
        self.events: list[dict] = []
        self.refund_status = "succeeded"  # what a new refund starts as ("pending": settles later)

    # -- plumbing ---------------------------------------------------------------------------------

    def now(self) -> int:
        """Return the fake's clock in unix seconds (real time plus `advance_clock` offsets)."""
        return int(self._clock()) + self.offset

    def new_id(self, prefix: str) -> str:
        """Return the next deterministic id with this prefix, e.g. `tr_000003`."""
        self.counters[prefix] = self.counters.get(prefix, 0) + 1
        return f"{prefix}_{self.counters[prefix]:06d}"

    def _add(self, obj: dict, key=None) -> dict:
        self.ordered.append(obj)
        if "id" in obj:
            self.by_id[obj["id"]] = obj
            self.seq[obj["id"]] = len(self.ordered)
            if key:
                self.key_of[obj["id"]] = key
        return obj

    def find(self, kind: str, obj_id: str, param="id", status=404) -> dict:
        """Return the stored object of this kind, or raise Stripe's resource_missing."""
        obj = self.by_id.get(obj_id) if isinstance(obj_id, str) else None
        if obj is None or obj["object"] != kind:
            raise invalid(f"No such {kind}: '{obj_id}'", "resource_missing", param, status=status)
        return obj

    def objects(self, kind: str) -> list[dict]:
        """Return copies of every object of this kind, oldest first."""
        return [copy.deepcopy(o) for o in self.ordered if o["object"] == kind]

    def _txn(self, type_, amount, currency, source, description=None) -> dict:
        now = self.now()
        return self._add({
            "id": self.new_id("txn"), "object": "balance_transaction", "amount": amount, "net": amount,
            "fee": 0, "fee_details": [], "currency": currency, "created": now, "available_on": now,
            "status": "available", "type": type_, "reporting_category": type_, "source": source,
            "description": description, "exchange_rate": None, "livemode": False,
        })

    def event(self, type_, obj, previous=None, key=None) -> dict:
        """Record an event carrying a snapshot of `obj` and return a copy of it."""
        data = {"object": copy.deepcopy(obj)}
        if previous is not None:
            data["previous_attributes"] = previous
        evt = {
            "id": self.new_id("evt"), "object": "event", "api_version": API_VERSION, "created": self.now(),
            "data": data, "livemode": False, "pending_webhooks": 1, "type": type_,
            "request": {"id": None, "idempotency_key": key},
        }
        self.events.append(evt)
        return copy.deepcopy(evt)

    def page(self, items, params, url, kind) -> dict:
        """Answer a list request: newest first, `limit` items after `starting_after`."""
        limit = _integer(params, "limit", minimum=1)
        limit = 10 if limit is None else limit
        if limit > 100:
            raise invalid("This value must be less than or equal to 100.", "parameter_invalid_integer", "limit")
        order = {o["id"]: (o["created"], self.seq[o["id"]]) for o in items}
        items = sorted(items, key=lambda o: order[o["id"]], reverse=True)
        after = params.get("starting_after")
        if after is not None:
            cursor = self.find(kind, after, "starting_after", status=400)
            mark = (cursor["created"], self.seq[cursor["id"]])
            items = [o for o in items if order[o["id"]] < mark]
        data = [copy.deepcopy(o) for o in items[:limit]]
        return {"object": "list", "data": data, "has_more": len(items) > limit, "url": url}

    # -- payment intents --------------------------------------------------------------------------

    def create_payment_intent(self, p, key=None) -> dict:
        """Create a PaymentIntent waiting for a payment method."""
        known(p, {"amount", "currency", "metadata", "automatic_payment_methods", "description"})
        amount, currency = _integer(p, "amount", required=True, minimum=1), _currency(p)
        apm = p.get("automatic_payment_methods")
        if apm is not None and (not isinstance(apm, dict) or apm.get("enabled") not in ("true", "false")):
            raise invalid("Invalid automatic_payment_methods", "parameter_invalid_object", "automatic_payment_methods")
        pi_id = self.new_id("pi")
        return self._add({
            "id": pi_id, "object": "payment_intent", "amount": amount, "amount_received": 0,
            "currency": currency, "status": "requires_payment_method", "metadata": _metadata(p),
            "description": _string(p, "description"), "created": self.now(), "livemode": False,
            "client_secret": f"{pi_id}_secret_{secrets.token_hex(12)}", "capture_method": "automatic",
            "automatic_payment_methods": {"enabled": apm["enabled"] == "true"} if apm else None,
            "last_payment_error": None, "latest_charge": None, "payment_method": None,
            "payment_method_types": ["card"], "canceled_at": None, "cancellation_reason": None,
        }, key)

    def succeed_payment(self, pi_id: str) -> dict:
        """Charge the intent in full (the platform balance grows) and return payment_intent.succeeded."""
        pi = self.find("payment_intent", pi_id)
        if pi["status"] != "requires_payment_method":
            raise ValueError(f"{pi_id} is {pi['status']}; only an unpaid intent can succeed")
        charge_id = self.new_id("ch")
        txn = self._txn("charge", pi["amount"], pi["currency"], charge_id, pi["description"])
        self._add({
            "id": charge_id, "object": "charge", "amount": pi["amount"], "amount_captured": pi["amount"],
            "amount_refunded": 0, "currency": pi["currency"], "captured": True, "paid": True,
            "refunded": False, "status": "succeeded", "payment_intent": pi_id, "metadata": dict(pi["metadata"]),
            "balance_transaction": txn["id"], "created": self.now(), "livemode": False,
        })
        self.available[pi["currency"]] = self.available.get(pi["currency"], 0) + pi["amount"]
        pi.update(status="succeeded", amount_received=pi["amount"], latest_charge=charge_id,
                  last_payment_error=None, payment_method=self.new_id("pm"))
        return self.event("payment_intent.succeeded", pi)

    def fail_refund(self, refund_id: str) -> dict:
        """Fail a pending refund (the money comes back to the balance) and return refund.updated."""
        refund = self.find("refund", refund_id)
        if refund["status"] != "pending":
            raise ValueError(f"{refund_id} is {refund['status']}; only a pending refund can fail")
        refund.update(status="failed", failure_reason="expired_or_canceled_card")
        charge = self.by_id[refund["charge"]]
        charge["amount_refunded"] -= refund["amount"]
        self.available[refund["currency"]] = self.available.get(refund["currency"], 0) + refund["amount"]
        self._txn("refund_failure", refund["amount"], refund["currency"], refund_id, "REFUND FAILURE")
        return self.event("refund.updated", refund, {"status": "pending"})

    def fail_payment(self, pi_id: str, message: str) -> dict:
        """Decline the intent's payment attempt and return payment_intent.payment_failed."""
        pi = self.find("payment_intent", pi_id)
        if pi["status"] != "requires_payment_method":
            raise ValueError(f"{pi_id} is {pi['status']}; only an unpaid intent can fail")
        pi["last_payment_error"] = {"type": "card_error", "code": "card_declined",
                                    "decline_code": "generic_decline", "message": message}
        return self.event("payment_intent.payment_failed", pi)

    # -- refunds ----------------------------------------------------------------------------------

    def create_refund(self, p, key=None) -> dict:
        """Refund part or all of what is left of a succeeded intent's charge."""
        known(p, {"payment_intent", "amount", "metadata", "reason"})
        pi = self.find("payment_intent", _string(p, "payment_intent", required=True), "payment_intent", 400)
        amount, metadata = _integer(p, "amount", minimum=1), _metadata(p)
        reason = _string(p, "reason", choices=REFUND_REASONS)
        if pi["status"] != "succeeded":
            raise invalid(f"This PaymentIntent ({pi['id']}) does not have a successful charge to refund.",
                          "payment_intent_unexpected_state", "payment_intent", stored=True)
        charge = self.by_id[pi["latest_charge"]]
        left = charge["amount"] - charge["amount_refunded"]
        if left == 0:
            raise invalid(f"Charge {charge['id']} has already been refunded.", "charge_already_refunded", stored=True)
        amount = left if amount is None else amount
        if amount > left:
            raise invalid(f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                          "amount_too_large", "amount", stored=True)
        refund_id = self.new_id("re")
        txn = self._txn("refund", -amount, charge["currency"], refund_id, "REFUND FOR PAYMENT")
        self.available[charge["currency"]] = self.available.get(charge["currency"], 0) - amount
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        refund = self._add({
            "id": refund_id, "object": "refund", "amount": amount, "currency": charge["currency"],
            "payment_intent": pi["id"], "charge": charge["id"], "status": self.refund_status, "reason": reason,
            "metadata": metadata, "balance_transaction": txn["id"], "created": self.now(), "livemode": False,
        }, key)
        self.event("charge.refunded", charge, {"amount_refunded": charge["amount_refunded"] - amount}, key)
        return refund

    # -- Connect accounts -------------------------------------------------------------------------

    def create_account(self, p, key=None) -> dict:
        """Create a Connect account that cannot take charges or payouts until onboarding completes."""
        known(p, {"type", "email", "country", "metadata", "capabilities"})
        caps = p.get("capabilities", {})
        if not isinstance(caps, dict) or any(not isinstance(c, dict) for c in caps.values()):
            raise invalid("Invalid capabilities", "parameter_invalid_object", "capabilities")
        return self._add({
            "id": self.new_id("acct"), "object": "account",
            "type": _string(p, "type", required=True, choices={"express", "standard", "custom"}),
            "email": _string(p, "email"), "country": (_string(p, "country") or "US").upper(),
            "default_currency": "usd", "metadata": _metadata(p), "created": self.now(), "livemode": False,
            "capabilities": {name: "inactive" for name, c in caps.items() if c.get("requested") == "true"},
            "charges_enabled": False, "payouts_enabled": False, "details_submitted": False,
            "requirements": {"currently_due": ["external_account", "tos_acceptance.date"],
                             "disabled_reason": "requirements.past_due"},
        }, key)

    def complete_onboarding(self, acct_id: str) -> dict:
        """Enable charges and payouts on the account and return account.updated."""
        acct = self.find("account", acct_id)
        fields = ("charges_enabled", "payouts_enabled", "details_submitted", "capabilities", "requirements")
        previous = copy.deepcopy({f: acct[f] for f in fields})
        acct.update(charges_enabled=True, payouts_enabled=True, details_submitted=True,
                    requirements={"currently_due": [], "disabled_reason": None})
        acct["capabilities"] = {name: "active" for name in acct["capabilities"]}
        return self.event("account.updated", acct, previous)

    def create_account_link(self, p, base_url: str, key=None) -> dict:
        """Create an onboarding link for an existing account."""
        known(p, {"account", "refresh_url", "return_url", "type"})
        acct = self.find("account", _string(p, "account", required=True), "account", 400)
        link_type = _string(p, "type", required=True, choices=LINK_TYPES)
        for url_param in ("refresh_url", "return_url"):
            _string(p, url_param)
        now = self.now()
        return self._add({"object": "account_link", "url": f"{base_url}/onboarding/{acct['id']}",
                          "created": now, "expires_at": now + 300, "type": link_type})

    # -- transfers and balance --------------------------------------------------------------------

    def create_transfer(self, p, key=None) -> dict:
        """Move money from the platform's available balance to an onboarded Connect account."""
        known(p, {"amount", "currency", "destination", "transfer_group", "metadata", "description"})
        amount, currency = _integer(p, "amount", required=True, minimum=1), _currency(p)
        dest_id, metadata = _string(p, "destination", required=True), _metadata(p)
        dest = self.by_id.get(dest_id)
        if dest is None or dest["object"] != "account":
            raise invalid(f"No such destination: '{dest_id}'", "account_invalid", "destination")
        if not dest["payouts_enabled"]:
            raise invalid(f"The destination account {dest_id} has not completed onboarding "
                          "(payouts_enabled is false), so it cannot receive transfers.",
                          "account_invalid", "destination", stored=True)
        if self.available.get(currency, 0) < amount:
            raise invalid("You have insufficient available funds in your Stripe account.",
                          "balance_insufficient", stored=True)
        transfer_id = self.new_id("tr")
        txn = self._txn("transfer", -amount, currency, transfer_id, _string(p, "description"))
        self.available[currency] -= amount
        return self._add({
            "id": transfer_id, "object": "transfer", "amount": amount, "amount_reversed": 0,
            "currency": currency, "destination": dest_id, "destination_payment": self.new_id("py"),
            "transfer_group": _string(p, "transfer_group"), "metadata": metadata,
            "description": _string(p, "description"), "balance_transaction": txn["id"], "reversed": False,
            "source_transaction": None, "created": self.now(), "livemode": False,
        }, key)

    def list_transfers(self, p) -> dict:
        """List transfers, optionally by transfer_group, destination or created."""
        known(p, {"limit", "starting_after", "transfer_group", "destination", "created"})
        group, dest, created = _string(p, "transfer_group"), _string(p, "destination"), _created_filter(p)
        items = [o for o in self.ordered if o["object"] == "transfer" and created(o["created"])
                 and (group is None or o["transfer_group"] == group) and (dest is None or o["destination"] == dest)]
        return self.page(items, p, "/v1/transfers", "transfer")

    def list_refunds(self, p) -> dict:
        """List refunds, optionally by payment_intent."""
        known(p, {"limit", "starting_after", "payment_intent"})
        intent = _string(p, "payment_intent")
        items = [o for o in self.ordered if o["object"] == "refund" and intent in (None, o["payment_intent"])]
        return self.page(items, p, "/v1/refunds", "refund")

    def list_balance_transactions(self, p) -> dict:
        """List balance transactions, optionally by type, currency, source or created."""
        known(p, {"limit", "starting_after", "created", "type", "currency", "source"})
        type_, source, created = _string(p, "type"), _string(p, "source"), _created_filter(p)
        currency = _currency(p) if "currency" in p else None
        items = [o for o in self.ordered if o["object"] == "balance_transaction" and created(o["created"])
                 and type_ in (None, o["type"]) and currency in (None, o["currency"]) and source in (None, o["source"])]
        return self.page(items, p, "/v1/balance_transactions", "balance_transaction")

    def balance(self, p=None) -> dict:
        """Return the platform balance (everything is available at once; nothing is pending)."""
        known(p or {}, set())
        amounts = self.available or {"usd": 0}
        return {
            "object": "balance", "livemode": False,
            "available": [{"amount": a, "currency": c, "source_types": {"card": a}} for c, a in sorted(amounts.items())],
            "pending": [{"amount": 0, "currency": c, "source_types": {"card": 0}} for c in sorted(amounts)],
        }
