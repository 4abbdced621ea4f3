"""How the suite treats what it needs (README: "CI=true"): a test whose service, package
or browser is missing is a visible skip on a developer's machine and a failure under
CI=true, so a green CI run means every test ran."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def run_pytest(folder, ci: bool) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}:{ROOT / 'testproject'}",
        "DJANGO_SETTINGS_MODULE": "testproject.settings",
    }
    env.pop("CI", None)
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:django"]
        + ["-p", "tests.conftest", str(folder)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_missing_requirement_skips_locally_and_fails_under_ci(tmp_path):
    (tmp_path / "test_needs.py").write_text(
        "from tests.conftest import import_required, requires\n\n\n"
        "@requires('a service that is not here', False)\n"
        "def test_needs_a_service():\n    pass\n\n\n"
        "def test_needs_a_package():\n    import_required('no_such_package_here')\n\n\n"
        "def test_needs_nothing():\n    pass\n"
    )
    local = run_pytest(tmp_path, ci=False)
    assert local.returncode == 0, local.stdout + local.stderr
    summary = local.stdout.strip().splitlines()[-1]
    assert "1 passed" in summary and "2 skipped" in summary, summary
    ci = run_pytest(tmp_path, ci=True)
    assert ci.returncode == 1, ci.stdout + ci.stderr
    # The missing service fails the test's setup (an error), the missing package its body.
    summary = ci.stdout.strip().splitlines()[-1]
    assert all(part in summary for part in ("1 failed", "1 passed", "1 error")), summary
    assert "a service that is not here is not available, and CI=true requires it" in ci.stdout
    assert "no_such_package_here cannot be imported" in ci.stdout
