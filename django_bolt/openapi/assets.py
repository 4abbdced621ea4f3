"""The documentation UIs' JavaScript and CSS, shipped inside the package so the docs work
offline and under a Content-Security-Policy that allows only the site itself.

They are the upstream npm releases, pinned by version and checked against the registry's
sha512 integrity before use. ``python -m django_bolt.openapi.assets`` (run by the
project's build) downloads them into ``django_bolt/openapi/static``; wheels include that
folder.
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
REGISTRY = "https://registry.npmjs.org"

#: package, version, sha512 integrity, {file in the tarball: file served}
PACKAGES = [
    (
        "swagger-ui-dist",
        "5.35.0",
        "sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==",
        {
            "package/swagger-ui-bundle.js": "swagger-ui-bundle.js",
            "package/swagger-ui.css": "swagger-ui.css",
            "package/LICENSE": "swagger-ui.LICENSE",
            "package/NOTICE": "swagger-ui.NOTICE",
        },
    ),
    (
        "redoc",
        "2.5.4",  # 3.x's standalone bundle needs to be loaded as a module
        "sha512-M6jWhG1qoBnH6TFmzJnstyCZ87HmOY/UzDm78mHiYihEdlV/YcS9ogOo1NlElnJMeLsyxHFe2yFc4sNjHTrABQ==",
        {
            "package/bundles/redoc.standalone.js": "redoc.standalone.js",
            "package/LICENSE": "redoc.LICENSE",
        },
    ),
    (
        "@scalar/api-reference",
        "1.72.1",
        "sha512-XpEJ0rfc/cXbCrR+iC4kK0o/WwX2dTtGQbT049OlPKAHD6IMIFdTeGz2r+M27P2EDWKyUITRm/NzlP8z2pw/Ow==",
        {
            "package/dist/browser/standalone.js": "scalar.standalone.js",
            "package/package.json": "scalar.package.json",
        },
    ),
    (
        "rapidoc",
        "9.3.8",
        "sha512-eCYEbr1Xr8OJZvVCw8SXl9zBCRoLJbhNGuG5IZTHq/RWAOq/O4MafUCuFEyZHsrhLrlUcGZMa64pyhpib8fQKQ==",
        {
            "package/dist/rapidoc-min.js": "rapidoc-min.js",
            "package/LICENSE.txt": "rapidoc.LICENSE",
        },
    ),
]


def missing() -> list[str]:
    """Served files not on disk."""
    return [
        served
        for _, _, _, files in PACKAGES
        for served in files.values()
        if not (STATIC / served).is_file()
    ]


def _tarball_url(name: str, version: str) -> str:
    return f"{REGISTRY}/{name}/-/{name.rsplit('/', 1)[-1]}-{version}.tgz"


def fetch(force: bool = False) -> list[str]:
    """Downloads what is missing; returns the files written."""
    STATIC.mkdir(parents=True, exist_ok=True)
    written = []
    for name, version, integrity, files in PACKAGES:
        if not force and all((STATIC / f).is_file() for f in files.values()):
            continue
        with urllib.request.urlopen(_tarball_url(name, version), timeout=120) as resp:
            data = resp.read()
        algo, _, expected = integrity.partition("-")
        digest = base64.b64encode(hashlib.new(algo, data).digest()).decode()
        if digest != expected:
            raise RuntimeError(f"{name} {version}: the download does not match its integrity")
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member, served in files.items():
                extracted = tar.extractfile(member)
                if extracted is None:
                    raise RuntimeError(f"{name} {version}: {member} is not a file")
                (STATIC / served).write_bytes(extracted.read())
                written.append(served)
    return written


def main() -> int:
    try:
        written = fetch(force="--force" in sys.argv)
    except OSError as exc:
        print(f"cannot download the documentation UIs: {exc}", file=sys.stderr)
        return 1
    print(f"documentation UI assets: {len(written)} written, in {STATIC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
