"""The ``tollgate`` command: ``dev`` (whole stack), ``migrate``, ``seed``."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("tollgate: not implemented yet", file=sys.stderr)
    return 2
