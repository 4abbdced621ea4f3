"""The documentation UIs' JavaScript and CSS, shipped inside the package so the docs work
offline and under a Content-Security-Policy that allows only the site itself.

They are the upstream npm releases, pinned by version, kept in the repository in
``django_bolt/openapi/static`` with their licences (see ``THIRD_PARTY.md`` there), so any
build (``pip install .``, ``pip wheel .``, an sdist) has them. ``FILES`` holds the sha256 of
each; ``python -m django_bolt.openapi.assets --check`` (run by the project's build and its
tests) verifies them. To move to another release, change ``PACKAGES``, run ``python -m
django_bolt.openapi.assets --update``: it downloads the tarballs, checks the registry's
sha512 integrity, writes the files and prints the new ``FILES`` table.
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


#: served file -> sha256 of the vendored copy
FILES = {
    "swagger-ui-bundle.js": "e6a898692f2d768e807c3ba4626068a69a2c5dd960dd6c76f3e4d3a3de180af2",
    "swagger-ui.css": "5ed08757e53da3e026d6cbecc61fe5d43585c9560b302d534ad56692519a273d",
    "swagger-ui.LICENSE": "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30",
    "swagger-ui.NOTICE": "0d20d1adef18aee3f40dd258172155521ce702ac445cb5f7b7d60ed32dad2fb2",
    "redoc.standalone.js": "dcaf76612bc4a3fbcc923a8966dee2f6146a5f32e5ce1b6f02dd60cbbf89500b",
    "redoc.LICENSE": "d3026d549cf68ab7355bcfa85877bf8f845b3334a7efbfdc63936432fb34ff0e",
    "scalar.standalone.js": "bf091006bdc3af6067af77c2f534812e3e633e94a94e87138069f570f33b762c",
    "scalar.package.json": "53a6a5af2e83bca667aff8134a1df79e158b669d82519c8b6f6a9d1ade76fc47",
    "rapidoc-min.js": "affbd173a65e870e18f392cca963113bcdafb6e50e88cd2f6a834a65b22db94d",
    "rapidoc.LICENSE": "92682ac573adb5e1357f1f41dd0eaa2f0e9dd6116b569218978c2469c1cd085c",
}


def problems() -> list[str]:
    """Served files that are missing or differ from their recorded sha256."""
    found = []
    for served, digest in FILES.items():
        path = STATIC / served
        if not path.is_file():
            found.append(f"{served}: missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            found.append(f"{served}: does not match its sha256")
    return found


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
    """Downloads the pinned releases (what is missing, or everything with ``force``);
    returns the files written."""
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


def main(argv: list[str]) -> int:
    if "--update" in argv:
        try:
            written = fetch(force=True)
        except OSError as exc:
            print(f"cannot download the documentation UIs: {exc}", file=sys.stderr)
            return 1
        print(f"{len(written)} files written in {STATIC}; the new FILES table:")
        for served in FILES:
            digest = hashlib.sha256((STATIC / served).read_bytes()).hexdigest()
            print(f'    "{served}": "{digest}",')
        return 0
    found = problems()
    if found:
        print("documentation UI assets: " + "; ".join(found), file=sys.stderr)
        return 1
    print(f"documentation UI assets: {len(FILES)} files checked in {STATIC}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
