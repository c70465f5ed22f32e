"""Money stories end to end, on the stack `make serve` stands up: two Checkout tabs, two stacks
sharing one Stripe account, and changes that land within one second of each other.

Each function runs from its built archive in its own process (`tools.local.stack`). A process
handles one invocation at a time, as a Lambda execution environment does, so concurrent copies
sent to one function queue there; the races below run the webhook scaled out to several
processes of the same archive and environment, as Lambda runs concurrent invocations in
separate environments.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from shared.contract import DUPLICATE_SUBSCRIPTION_OUTCOME, OTHER_STACK_OUTCOME
from tests.e2e.conftest import deployed_dev_stack
from tests.support.billing_world import fake_webhook_secret
from tools.local.emulators import running_moto, running_stripe_fake
from tools.local.lambda_container import LambdaContainer, extract, runtime_packages
from tools.local.stack import REGION, DeployedStack
from tools.local.stripe_emulator import SessionNotOpenError, StripeFake
from tools.mock_engine import REPO_ROOT, base_config, run_program

T = TypeVar("T")

#: The dev stack's catalog as Pulumi.dev.yaml declares it: basic, and pro with its features.
#: The dev stack's catalog: its plans and the meters one of them bills.
DEV_PLANS = {
    key: value
    for key, value in yaml.safe_load((REPO_ROOT / "Pulumi.dev.yaml").read_text())["config"].items()
    if key in ("saas-billing:plans", "saas-billing:meters")
    or key.startswith("saas-billing:organization")
}
WEBHOOK_ROUTE = "POST /stripe/webhook"
#: Outcomes of an event the stack takes as its own: written, or already covered by a write
#: (the same event, or a read of Stripe made after the event's second).
TAKEN = ("applied", "duplicate", "stale")
#: Rounds of each race: enough to meet the bad interleavings, bounded so the file stays quick.
#: The stack's own functions keep their logs in a pipe read at `stop()`: the whole module writes
#: about 25 KB to each, and a function blocks once its pipe holds 64 KiB (Linux).
ROUNDS = 20
#: Webhook processes for the races (one invocation at a time each, as in Lambda).
WEBHOOK_PROCESSES = 4


# -- the stacks ----------------------------------------------------------------------------


def _no_secret_in(stack: DeployedStack, logs: str) -> None:
    for value in stack.document.values():
        if isinstance(value, str):  # the keys; the catalog object is public
            assert value not in logs, "a secret value reached a Lambda's log"


@pytest.fixture(scope="module")
def stack(
    moto: str, stripe_fake: StripeFake, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DeployedStack]:
    """Stack A: the dev stack with its declared plans."""
    root = tmp_path_factory.mktemp("dev")
    with deployed_dev_stack(moto, stripe_fake, root, config=DEV_PLANS) as deployed:
        yield deployed
        _no_secret_in(deployed, deployed.stop())


@pytest.fixture(scope="module")
def staging(
    moto: str, stripe_fake: StripeFake, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DeployedStack]:
    """Stack B: the staging stack, on the same AWS account and the same Stripe account as A.

    Its identity is the Pulumi stack's name, which `deployed_dev_stack`'s config cannot change,
    so it is stood up the same way under its own name. The mocks derive the webhook secret from
    the resource's name alone (the same for both stacks); B gets its own, as each real endpoint
    does.
    """
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_DEFAULT_REGION": REGION}.items():  # fmt: skip
            patch.setenv(name, value)
        recording = run_program(base_config("staging"), stack="staging")
        deployed = DeployedStack(
            recording,
            moto,
            stripe_fake,
            tmp_path_factory.mktemp("staging"),
            document={"stripe_webhook_secret": fake_webhook_secret("STAGING")},
        )
        stripe_fake.stock(deployed.document)
        yield deployed
        _no_secret_in(deployed, deployed.stop())


class ScaledOut:
    """More processes of the function behind `route`: same archive, layer and environment."""

    def __init__(self, stack: DeployedStack, route: str, count: int, root: Path) -> None:
        self.stack = stack
        (function,) = [
            f
            for f in stack.recording.of_type("aws:lambda/function:Function")
            if stack.functions[f.name] is stack.routes[route].container
        ]
        layer = stack.recording.one("aws:lambda/layerVersion:LayerVersion")
        code = extract(Path(function.inputs["code"]["fileArchive"]), root / function.name)
        layer_python = extract(Path(layer.inputs["code"]["fileArchive"]), root / "opt") / "python"
        runtime = runtime_packages(root / "runtime")
        environment = stack._environment(function)
        self.log_path = root / "logs.jsonl"
        with self.log_path.open("a") as log:  # a file, not a pipe: it never fills up
            self.processes = [
                LambdaContainer(
                    code,
                    layer_python,
                    runtime,
                    environment,
                    log.fileno(),
                    handler=function.inputs["handler"],
                )
                for _ in range(count)
            ]

    def deliver(self, process: int, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Stripe signs `event` and posts it; process `process` (modulo their count) answers."""
        payload, header = self.stack.emulator.signed(
            event, self.stack.document["stripe_webhook_secret"]
        )
        request = self.stack.event(
            "POST",
            "/stripe/webhook",
            payload,
            headers={"content-type": "application/json", "stripe-signature": header},
        )
        response = self.processes[process % len(self.processes)].invoke(request)
        return response["statusCode"], json.loads(response["body"])

    def stop(self) -> str:
        for process in self.processes:
            process.stop()
        return self.log_path.read_text()


@pytest.fixture(scope="module")
def webhooks(stack: DeployedStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledOut]:
    scaled = ScaledOut(stack, WEBHOOK_ROUTE, WEBHOOK_PROCESSES, tmp_path_factory.mktemp("scaled"))
    yield scaled
    _no_secret_in(stack, scaled.stop())


# -- helpers -------------------------------------------------------------------------------


def stack_id(stack: DeployedStack) -> str:
    """The identity the stack stamps on its Stripe objects, as the program declared it."""
    function = stack.recording.one("aws:lambda/function:Function", "webhook")
    return str(function.inputs["environment"]["variables"]["STACK_ID"])


def price(stack: DeployedStack, plan_id: str, interval: str = "monthly") -> str:
    _, prices = stack.request("GET", "/subscription/prices", claims=None)
    (plan,) = [plan for plan in prices["plans"] if plan["id"] == plan_id]
    return str(plan["prices"][interval]["id"])


def claims_of(user_id: str) -> dict[str, str]:
    return {"sub": user_id, "email": f"{user_id}@example.com"}


def check_out(stack: DeployedStack, user_id: str, price_id: str) -> dict[str, Any]:
    """`POST /subscription/checkout`: the user's record and customer exist from here on."""
    status, checkout = stack.request(
        "POST", "/subscription/checkout", {"priceId": price_id}, claims=claims_of(user_id)
    )
    assert status == 200, checkout
    return checkout


def customer_of(stack: DeployedStack, checkout: dict[str, Any]) -> str:
    return str(stack.emulator.state.objects[checkout["sessionId"]]["customer"])


def state_of(stack: DeployedStack, user_id: str) -> dict[str, Any]:
    status, state = stack.request("GET", "/subscription", claims=claims_of(user_id))
    assert status == 200, state
    return state


def record_of(stack: DeployedStack, user_id: str) -> dict[str, Any] | None:
    """The user's item as stored in the stack's own users table."""
    table = stack.recording.one("aws:dynamodb/table:Table", "users").inputs["name"]
    item = stack.boto("dynamodb").get_item(
        TableName=table, Key={"userId": {"S": user_id}}, ConsistentRead=True
    )
    found: dict[str, Any] | None = item.get("Item")
    return found


def outcome(answer: tuple[int, dict[str, Any]]) -> str:
    status, body = answer
    assert status == 200, body
    return str(body["outcome"])


def subscribed(stack: DeployedStack, user_id: str, customer: str, price_id: str) -> dict[str, Any]:
    """A subscription of this stack for the customer, its creation delivered (and applied)."""
    metadata = {"userId": user_id, "stack": stack_id(stack)}
    sub = stack.emulator.create_subscription(customer, price_id, None, metadata=metadata)
    assert outcome(stack.deliver("customer.subscription.created", sub, int(time.time()))) == (
        "applied"
    )
    return sub


def at_once(*calls: Callable[[], T]) -> list[T]:
    """Run the calls concurrently, each in its own thread, started in the order given."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
        return [future.result(timeout=60) for future in futures]


# -- two tabs ------------------------------------------------------------------------------


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[DeployedStack]:
    """A dev stack of the test's own (its own moto and emulator), whose logs the test reads."""
    with (
        running_moto() as moto,
        running_stripe_fake() as stripe,
        deployed_dev_stack(moto, stripe, tmp_path, config=DEV_PLANS) as deployed,
    ):
        yield deployed
        deployed.stop()  # again, if the test failed before reading the logs: harmless


def test_a_second_tab_closes_the_first_and_a_paid_duplicate_is_reported_never_revoking(
    own_stack: DeployedStack,
) -> None:
    stack, stripe = own_stack, own_stack.emulator
    pro, basic = price(stack, "pro"), price(stack, "basic")
    first = check_out(stack, "tabs", pro)
    time.sleep(1.1)  # Stripe's `created` has one-second resolution
    second = check_out(stack, "tabs", basic)
    assert stripe.state.objects[first["sessionId"]]["status"] == "expired"
    with pytest.raises(SessionNotOpenError):
        stripe.complete_checkout(first["sessionId"])

    session, paid = stripe.complete_checkout(second["sessionId"])
    now = int(time.time())  # events are created at the moment of change
    assert outcome(stack.deliver("checkout.session.completed", session, now)) == "applied"
    assert outcome(stack.deliver("customer.subscription.created", paid, now)) in TAKEN
    state = state_of(stack, "tabs")
    assert state["isSubscribed"] is True and state["planId"] == "basic"

    # Two entitled subscriptions anyway (a tab paid before it was expired): reported, and the
    # operator cancelling the older one revokes nothing.
    time.sleep(1.1)
    metadata = {"userId": "tabs", "stack": stack_id(stack)}
    duplicate = stripe.create_subscription(session["customer"], pro, None, metadata=metadata)
    answer = stack.deliver("customer.subscription.created", duplicate, int(time.time()))
    assert outcome(answer) in TAKEN
    ended = stripe.update_subscription(paid["id"], status="canceled")
    assert outcome(stack.deliver("customer.subscription.deleted", ended, int(time.time()))) in TAKEN
    state = state_of(stack, "tabs")
    assert state["isSubscribed"] is True and state["planId"] == "pro"

    entries = [json.loads(line) for line in stack.stop().splitlines() if line.strip()]
    reported = [e for e in entries if e.get("outcome") == DUPLICATE_SUBSCRIPTION_OUTCOME]
    assert reported, "a second entitled subscription must be logged for an operator"
    assert all(e["level"] == "ERROR" for e in reported)
    assert paid["id"] in reported[0]["message"] and duplicate["id"] in reported[0]["message"]


# -- two stacks, one Stripe account --------------------------------------------------------


def test_another_stacks_events_for_a_user_of_the_same_name_change_nothing(
    stack: DeployedStack, staging: DeployedStack
) -> None:
    stripe = stack.emulator
    tables = {s.recording.one("aws:dynamodb/table:Table", "users").inputs["name"]
              for s in (stack, staging)}  # fmt: skip
    assert tables == {f"{stack_id(stack)}-users", f"{stack_id(staging)}-users"}
    assert stack_id(stack) != stack_id(staging)

    # Alice signs up on B (her record there), then checks out on A. In this order because the
    # stacks share her customer and so her sessions: see the test after this one.
    check_out(staging, "alice", staging.document["stripe_monthly_price_id"])
    checkout = check_out(stack, "alice", price(stack, "basic"))
    session, sub = stripe.complete_checkout(checkout["sessionId"])
    invoice = stripe.invoice_for(sub, paid=True)
    theirs = [
        ("checkout.session.completed", session),
        ("customer.subscription.created", sub),
        ("invoice.paid", invoice),
    ]
    before = record_of(staging, "alice")
    assert before is not None
    now = int(time.time())
    for event_type, obj in theirs:
        assert outcome(staging.deliver(event_type, obj, now)) == OTHER_STACK_OUTCOME, event_type
    assert record_of(staging, "alice") == before

    # An unstamped subscription (made before stacks stamped theirs) of someone else's customer.
    unstamped = stripe.create_subscription(
        "cus_strangerFAKE", price(stack, "basic"), None, metadata={"userId": "alice"}
    )
    for event_type in ("customer.subscription.created", "customer.subscription.deleted"):
        answer = staging.deliver(event_type, unstamped, int(time.time()))
        assert outcome(answer) == OTHER_STACK_OUTCOME, event_type
    assert record_of(staging, "alice") == before

    for event_type, obj in theirs:  # while A applies its own
        assert outcome(stack.deliver(event_type, obj, now)) in TAKEN
    assert state_of(stack, "alice")["isSubscribed"] is True
    assert state_of(staging, "alice")["isSubscribed"] is False


def test_a_user_of_the_same_name_gets_her_own_customer_on_each_stack(
    stack: DeployedStack, staging: DeployedStack
) -> None:
    on_a = check_out(stack, "carol", price(stack, "basic"))
    on_b = check_out(staging, "carol", staging.document["stripe_monthly_price_id"])
    assert customer_of(stack, on_a) != customer_of(staging, on_b)
    assert stack.emulator.state.objects[on_a["sessionId"]]["status"] == "open"


def test_only_a_stacks_own_signing_secret_is_accepted(
    stack: DeployedStack, staging: DeployedStack
) -> None:
    event = stack.emulator.event("customer.subscription.updated", {"id": "sub_x"})
    payload, header = stack.emulator.signed(event, stack.document["stripe_webhook_secret"])
    status, _ = staging.request(
        "POST", "/stripe/webhook", raw=payload, headers={"Stripe-Signature": header}
    )
    assert status == 400


# -- the same second, concurrently ---------------------------------------------------------


def test_two_changes_in_one_second_delivered_newest_first_at_once_end_on_stripes_state(
    stack: DeployedStack, webhooks: ScaledOut
) -> None:
    stripe = stack.emulator
    basic = price(stack, "basic")
    customer = customer_of(stack, check_out(stack, "same-second", basic))
    sub = subscribed(stack, "same-second", customer, basic)
    for round_ in range(ROUNDS):
        final = round_ % 2 == 0  # each round ends on the other value, so a lost change shows
        older = stripe.update_subscription(sub["id"], cancel_at_period_end=not final)
        newer = stripe.update_subscription(sub["id"], cancel_at_period_end=final)
        created = int(time.time())  # both changes, one second
        events = [stripe.event("customer.subscription.updated", obj, created)
                  for obj in (newer, older)]  # fmt: skip
        answers = at_once(*(partial(webhooks.deliver, i, e) for i, e in enumerate(events)))
        assert [status for status, _ in answers] == [200, 200], answers
        state = state_of(stack, "same-second")
        assert state["cancelAtPeriodEnd"] is final, f"round {round_}: {answers}"


def test_a_sync_racing_a_cancellation_ends_canceled(stack: DeployedStack) -> None:
    stripe = stack.emulator
    basic = price(stack, "basic")
    customer = customer_of(stack, check_out(stack, "sync-race", basic))
    for round_ in range(ROUNDS):
        sub = subscribed(stack, "sync-race", customer, basic)
        assert state_of(stack, "sync-race")["isSubscribed"] is True

        def cancel(
            delay: float = round_ * 0.005, sub_id: str = sub["id"]
        ) -> tuple[int, dict[str, Any]]:
            time.sleep(delay)  # rounds sweep the change across the sync's read and write
            ended = stripe.update_subscription(sub_id, status="canceled")
            return stack.deliver("customer.subscription.deleted", ended, int(time.time()))

        synced, canceled = at_once(
            partial(stack.request, "POST", "/subscription/sync", claims=claims_of("sync-race")),
            cancel,
        )
        assert synced[0] == 200 and canceled[0] == 200, (synced, canceled)
        state = state_of(stack, "sync-race")
        assert state["isSubscribed"] is False, f"round {round_}: {state}"
        assert state["subscriptionStatus"] == "canceled"


def test_sixteen_concurrent_copies_of_a_payment_cost_one_stripe_read(
    stack: DeployedStack, webhooks: ScaledOut
) -> None:
    stripe = stack.emulator
    basic = price(stack, "basic")
    customer = customer_of(stack, check_out(stack, "copies", basic))
    sub = subscribed(stack, "copies", customer, basic)
    event = stripe.event("invoice.paid", stripe.invoice_for(sub, paid=True), int(time.time()))
    seen = len(stripe.state.requests)
    answers = at_once(*(partial(webhooks.deliver, i, event) for i in range(16)))
    assert sorted(outcome(answer) for answer in answers) == ["applied"] + ["duplicate"] * 15
    made = [(r.method, r.path, r.params.get("customer")) for r in stripe.state.requests[seen:]]
    assert made == [("GET", "/v1/subscriptions", customer)], "one read of Stripe in all"
