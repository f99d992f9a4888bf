"""Every problem type a service can answer is documented in docs/errors.md (stable types are a promise)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import tollgate_api
import tollgate_common.errors
import tollgate_router
from tollgate_common.errors import TollgateError
from tollgate_common.problems import _SLUGS

DOC = (Path(__file__).resolve().parents[1] / "docs" / "errors.md").read_text(encoding="utf-8")
SKIP = (".cli", ".devstack", "__main__", ".worker.__main__")


def error_classes() -> set[type[TollgateError]]:
    found: set[type[TollgateError]] = set()
    modules = [tollgate_common.errors]
    for package in (tollgate_api, tollgate_router):
        names = [info.name for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
        modules.extend(importlib.import_module(name) for name in names if not any(p in name for p in SKIP))
    for module in modules:
        found.update(
            cls for _, cls in inspect.getmembers(module, inspect.isclass) if issubclass(cls, TollgateError)
        )
    return found


def test_every_error_type_is_documented() -> None:
    classes = error_classes()
    assert len(classes) > 30
    missing = sorted({cls.slug for cls in classes} - _documented())
    assert not missing, f"add these problem types to docs/errors.md: {missing}"


def test_every_framework_error_type_is_documented() -> None:
    missing = sorted({slug for slug, _ in _SLUGS.values()} - set(_documented()))
    assert not missing, f"add these problem types to docs/errors.md: {missing}"


def _documented() -> set[str]:
    return set(re.findall(r"`([a-z0-9-]+)`", DOC))
