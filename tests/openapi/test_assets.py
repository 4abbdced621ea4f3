"""The documentation UIs' files are in the repository, with their licences, exactly as
recorded: any build of the package has them."""

import shutil
import subprocess
import sys

from django_bolt.openapi import assets


def test_every_vendored_file_matches_its_sha256():
    assert assets.problems() == []
    served = {name for _, _, _, files in assets.PACKAGES for name in files.values()}
    assert served == set(assets.FILES)
    licences = [name for name in assets.FILES if name.endswith((".LICENSE", "package.json"))]
    assert len(licences) == len(assets.PACKAGES)
    assert (assets.STATIC / "THIRD_PARTY.md").is_file()


def test_the_check_reports_a_changed_or_missing_file(tmp_path, monkeypatch):
    copy = tmp_path / "static"
    shutil.copytree(assets.STATIC, copy)
    (copy / "redoc.standalone.js").write_bytes(b"tampered")
    (copy / "rapidoc-min.js").unlink()
    monkeypatch.setattr(assets, "STATIC", copy)
    assert assets.problems() == [
        "redoc.standalone.js: does not match its sha256",
        "rapidoc-min.js: missing",
    ]
    assert assets.main(["--check"]) == 1


def test_the_build_step_checks_them():
    done = subprocess.run(
        [sys.executable, "-m", "django_bolt.openapi.assets", "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert f"{len(assets.FILES)} files checked" in done.stdout
