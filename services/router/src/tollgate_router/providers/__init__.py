"""Upstream provider adapters behind one small interface (see ``base.py``)."""
