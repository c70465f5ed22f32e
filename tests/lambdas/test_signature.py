"""The hand-written verifier agrees with stripe-python's on a generated corpus.

For every case, stripe-python's `WebhookSignature.verify_header` (the reference) and
`signature.verify_signature` must both accept or both refuse, except for timestamps more than
the tolerance ahead, which only ours refuses (on purpose). A reference that raises anything
other than `SignatureVerificationError` (it does for a non-ASCII signature) counts as refusing:
the webhook must answer 400 there, not 500.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import stripe
from stripe_webhook.signature import SignatureError, verify_signature

TOLERANCE = 300
#: Cases sit at least this far from a tolerance boundary, so the seconds the suite takes to
#: reach them never move one across it (stripe-python reads the clock itself).
MARGIN = 120


@dataclass(frozen=True)
class Case:
    name: str
    payload: str
    header: str
    secret: str
    future: bool = False


def sign(payload: str, secret: str, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return mac.hexdigest()


def corpus(seed: int = 20261130, count: int = 60) -> Iterator[Case]:
    rng = random.Random(seed)
    now = int(time.time())
    for index in range(count):
        secret = "whsec_" + "".join(rng.choices("abcdefghijkLMNOP0123456789", k=32))
        other = "whsec_" + "".join(rng.choices("abcdefghijkLMNOP0123456789", k=32))
        note = rng.choice(["", "ü", "a,b=c", "t=1,v1=x", "\u2603"])
        payload = f'{{"id": "evt_{index}", "object": "event", "note": "{note}"}}'
        t = now - rng.randint(0, TOLERANCE - MARGIN)
        good = sign(payload, secret, t)
        yield Case(f"valid-{index}", payload, f"t={t},v1={good}", secret)
        yield Case(f"tampered-{index}", payload + " ", f"t={t},v1={good}", secret)
        yield Case(f"wrong-secret-{index}", payload, f"t={t},v1={sign(payload, other, t)}", secret)
        stale = now - TOLERANCE - rng.randint(MARGIN, 10_000)
        yield Case(
            f"stale-{index}", payload, f"t={stale},v1={sign(payload, secret, stale)}", secret
        )
        ahead = now + TOLERANCE + rng.randint(MARGIN, 10_000)
        yield Case(
            f"future-{index}", payload, f"t={ahead},v1={sign(payload, secret, ahead)}", secret, True
        )
        near = now + rng.randint(0, TOLERANCE - MARGIN)
        yield Case(
            f"near-future-{index}", payload, f"t={near},v1={sign(payload, secret, near)}", secret
        )
        several = [sign(payload, other, t), good, "0" * 64]
        rng.shuffle(several)
        yield Case(
            f"several-v1-{index}", payload, f"t={t}," + ",".join(f"v1={s}" for s in several), secret
        )
        yield Case(f"v0-only-{index}", payload, f"t={t},v0={good}", secret)
        yield Case(f"v0-and-v1-{index}", payload, f"t={t},v0=ffff,v1={good}", secret)
        yield Case(f"wrong-timestamp-{index}", payload, f"t={t + 1},v1={good}", secret)
        yield Case(f"signed-timestamp-order-{index}", payload, f"v1={good},t={t}", secret)
    malformed = [
        "",
        "garbage",
        "t=,v1=abc",
        "t=abc,v1=abc",
        "v1=abc",
        "t=123",
        "t",
        "t=1,v1",
        "t=1,t=2,v1=abc",
        ",,,",
        "t= 12 ,v1=abc",
        "t=1_000,v1=abc",
        "t=+5,v1=abc",
        f"t={now},v1=ünïcode",
        f"t={now},v1={'a' * 64}=extra",
        f"t={now},V1=abc",
    ]
    for index, header in enumerate(malformed):
        yield Case(f"malformed-{index}", '{"id": "evt_m"}', header, "whsec_" + "m" * 32)
    body = '{"id": "evt_edge"}'
    for secret in ("", "   ", "whsec_" + "e" * 32):
        t = now
        yield Case(f"secret-{secret!r}", body, f"t={t},v1={sign(body, secret, t)}", secret)
    # Python's int() reads these timestamps too; both sides must agree on what was signed.
    for spelled, value in (("1_0", 10), (f"+{now}", now), (f" {now} ", now)):
        yield Case(f"spelled-{spelled!r}", body, f"t={spelled},v1={sign(body, 'whsec_s', value)}",
                   "whsec_s")  # fmt: skip


def reference_accepts(case: Case) -> bool:
    try:
        stripe.WebhookSignature.verify_header(case.payload, case.header, case.secret, TOLERANCE)
    except Exception:  # SignatureVerificationError, or TypeError for a non-ASCII signature
        return False
    return True


def ours_accepts(case: Case) -> bool:
    try:
        verify_signature(case.payload, case.header, case.secret, TOLERANCE, now=time.time())
    except SignatureError:
        return False
    return True


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return list(corpus())


def test_the_corpus_covers_both_verdicts(cases: list[Case]) -> None:
    verdicts = [reference_accepts(case) for case in cases]
    assert verdicts.count(True) >= 100 and verdicts.count(False) >= 300


def test_ours_agrees_with_stripe_python_on_every_case(cases: list[Case]) -> None:
    disagreements = [
        case.name
        for case in cases
        if ours_accepts(case) is not (reference_accepts(case) and not case.future)
    ]
    assert disagreements == []


def test_only_ours_refuses_a_future_timestamp(cases: list[Case]) -> None:
    future = [case for case in cases if case.future]
    assert future and all(reference_accepts(c) and not ours_accepts(c) for c in future)


def test_the_comparison_is_constant_time_on_the_hex_digest() -> None:
    source = (
        Path(__file__).resolve().parents[2] / "lambdas/stripe_webhook/signature.py"
    ).read_text()
    assert "hmac.compare_digest" in source and "==" not in source.split("def _equal")[1]
