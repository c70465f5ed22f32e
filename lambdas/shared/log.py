"""One logger for the billing Lambdas, at LOG_LEVEL. Messages name what failed, never a value."""

from __future__ import annotations

import logging
import os

#: Libraries that log request and response bodies at DEBUG (botocore logs GetSecretValue's
#: SecretString, stripe logs request parameters): never below WARNING, whatever the level.
_PAYLOAD_LOGGERS = ("botocore", "boto3", "urllib3", "stripe")

_configured = False


def get_logger(name: str) -> logging.Logger:
    """A child of the `billing` logger; the first call sets the level (and a handler off Lambda)."""
    global _configured
    if not _configured:
        root = logging.getLogger()
        if not root.handlers:  # the Lambda runtime installs its own handler; locally add one
            logging.basicConfig(format="%(levelname)s %(name)s %(message)s")
        logging.getLogger("billing").setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
        for library in _PAYLOAD_LOGGERS:
            logging.getLogger(library).setLevel(logging.WARNING)
        _configured = True
    return logging.getLogger(f"billing.{name}")
