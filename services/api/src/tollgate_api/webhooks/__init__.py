"""Webhooks: endpoints teams register, events emitted in the transaction of a state change, signed
deliveries by the worker with backoff for 24 h (docs/webhooks.md)."""
