"""Fault and soak runs of the whole stack (``make reliability``); not part of ``make test``."""
