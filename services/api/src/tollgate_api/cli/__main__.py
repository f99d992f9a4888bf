"""``python -m tollgate_api.cli`` — the same as the ``tollgate`` console script."""

from __future__ import annotations

import sys

from tollgate_api.cli import main

sys.exit(main())
