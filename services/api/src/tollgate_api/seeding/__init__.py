"""Generated data sets: ``tollgate seed-large`` (≥ 1M jobs, ≥ 10M calls, built with set-based SQL).

The demo seed of `make run` is :mod:`tollgate_api.devstack.seed` (through the admin APIs); this
package writes straight into the ``api`` schema of a dedicated database (``tollgate_large``) for
benchmarks of the reports and the workers at scale.
"""

from tollgate_api.seeding.large import Invariants, SeedConflict, SeedReport, check_invariants, seed_large
from tollgate_api.seeding.params import SeedParams, SeedParamsError
from tollgate_api.seeding.target import LARGE_DATABASE, LargeDatabaseMissing, large_database_url

__all__ = [
    "LARGE_DATABASE",
    "Invariants",
    "LargeDatabaseMissing",
    "SeedConflict",
    "SeedParams",
    "SeedParamsError",
    "SeedReport",
    "check_invariants",
    "large_database_url",
    "seed_large",
]
