"""Secrets the api stores encrypted (team virtual keys, webhook signing secrets) and their re-encryption."""
