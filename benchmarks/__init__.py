"""`make bench`: cold start, warm path, Secrets Manager calls, DynamoDB cost, package size.

Every figure is measured here, on loopback emulators (moto's server, the Stripe fake), never by a
timed test. The naive variants the figures are compared with live in `naive.py`, clearly
labelled, and never in the product.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
