"""`make bench`: cold start, warm path, Secrets Manager calls, DynamoDB cost, package size.

Every figure is measured here, on loopback emulators (moto's server, the Stripe fake), never by a
timed test. The naive variants the figures are compared with live in `naive.py`, clearly
labelled, and never in the product.
"""

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# The benchmarks use the program's and the Lambdas' code the way the tests do.
for _path in (REPO_ROOT / "infra", REPO_ROOT / "lambdas", REPO_ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
