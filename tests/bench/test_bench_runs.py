"""`make bench` keeps working: a quick run completes and reports every section.

This checks the benchmark's plumbing and the call counts it reports (which are design facts,
not timings); no time is asserted anywhere.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_quick_benchmark_reports_every_section(tmp_path: Path) -> None:
    output = tmp_path / "rows.json"
    subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json", str(output)],
        cwd=REPO_ROOT, check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    rows = {label: value for label, value, _ in json.loads(output.read_text())}
    for prefix in (
        "cold: ",
        "warm: ",
        "GetSecretValue",
        "DynamoDB",
        "size: ",
        "program ",
        "usage: ",
    ):
        assert any(label.startswith(prefix) for label in rows), prefix
    assert rows["GetSecretValue, 50 warm invocations, within one TTL window"] == "1"
    assert rows["GetSecretValue, 50 warm invocations, across a TTL expiry"] == "2"
    assert rows["GetSecretValue, 50 invocations, NAIVE fetch per invocation"] == "50"
    assert int(rows["GetSecretValue, 100 forged webhooks on a cold container"]) <= 2
    named = rows["DynamoDB per subscription.updated, 100 users, event names the user"]
    assert named.startswith("1 requests")
    assert rows["DynamoDB per subscription.updated, 100 users, user found via index"].startswith(
        "2 requests"
    )
    reconciled = rows["DynamoDB per reconciled event, 50 undelivered events"]
    assert reconciled == "1 requests (1 TransactWriteItems)", reconciled
    assert any(label.startswith("cold first response: ") for label in rows)
    # A session and then one stream request per 100 events: at most 2 per 100, 10 per 200.
    assert float(rows["usage: Stripe requests per 1,000 events"]) <= 20
    assert rows["usage: NAIVE Stripe requests per 1,000 events"] == "1000"
