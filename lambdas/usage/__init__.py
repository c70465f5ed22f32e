"""The usage function: SQS batches of usage messages → Stripe's v2 meter event stream."""
