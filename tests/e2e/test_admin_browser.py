"""The Django admin under runbolt, driven in headless Chromium."""

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_admin_login_add_change_list_and_change_form(bolt, browser, tmp_path):
    with bolt(env={"DJANGO_DEBUG": "1"}) as server:
        page = browser.new_page()
        static = {}
        page.on(
            "response",
            lambda r: static.__setitem__(r.url, r.status) if "/static/" in r.url else None,
        )

        page.goto(f"{server.url}/admin/login/?next=/admin/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "pw-admin-123")
        page.click("input[type=submit]")
        page.wait_for_url(f"{server.url}/admin/")
        assert "Site administration" in page.content()

        page.goto(f"{server.url}/admin/users/note/add/")
        page.fill("#id_title", "Written in Chromium")
        page.fill("#id_body", "through runbolt")
        page.click("input[name=_save]")
        page.wait_for_url(f"{server.url}/admin/users/note/")
        assert "Written in Chromium" in page.inner_text("#result_list")
        page.screenshot(path=str(tmp_path / "change_list.png"))

        page.click("#result_list a:text('Written in Chromium')")
        page.wait_for_selector("#id_title")
        assert page.input_value("#id_title") == "Written in Chromium"
        assert page.input_value("#id_body") == "through runbolt"

        page.click("#logout-form button")  # logout is a POST with the CSRF token
        page.wait_for_load_state()
        assert "Logged out" in page.content()
        page.goto(f"{server.url}/admin/")
        assert "/admin/login/" in page.url

        css = [url for url in static if url.endswith(".css")]
        assert css, "the admin pages loaded no stylesheet"
        assert all(status == 200 for status in static.values()), static


def test_admin_is_styled_with_debug_off_after_collectstatic(bolt, browser, e2e_static):
    """Production: DEBUG off, STATIC_ROOT collected, no other server in front."""
    with bolt(env={"DJANGO_DEBUG": "0", "BOLT_STATIC_ROOT": str(e2e_static)}) as server:
        assert "Static files (Rust): /static/" in server.log
        page = browser.new_page()
        static = {}
        page.on(
            "response",
            lambda r: (
                static.__setitem__(r.url, (r.status, r.headers)) if "/static/" in r.url else None
            ),
        )
        page.goto(f"{server.url}/admin/login/")
        page.wait_for_load_state("networkidle")
        css = {url: v for url, v in static.items() if ".css" in url}
        assert css and all(status == 200 for status, _ in static.values()), static
        # Hashed names, cached for a year, the Brotli sibling for a browser that takes it.
        for _, headers in css.values():
            assert headers["cache-control"] == "public, max-age=31536000, immutable"
        assert any(h.get("content-encoding") == "br" for _, h in css.values())
        rules = page.evaluate(
            "[...document.styleSheets].reduce((n, s) => n + s.cssRules.length, 0)"
        )
        assert rules > 100
        # The login form is laid out by the admin's stylesheet, not the browser's defaults.
        width = page.evaluate("getComputedStyle(document.querySelector('#container')).width")
        assert width != "auto"
        page.fill("#id_username", "admin")
        page.fill("#id_password", "pw-admin-123")
        page.click("input[type=submit]")
        page.wait_for_url(f"{server.url}/admin/")
        assert "Site administration" in page.content()


def test_admin_add_and_change_forms_take_files_larger_than_the_api_limit(
    bolt, browser, e2e_static, tmp_path
):
    """Production again, with the API capped at 1 MiB: the admin's file field still
    takes a 3 MiB file (Django's paths have their own limit), stored whole."""
    media = tmp_path / "media"
    first = tmp_path / "report.bin"
    first.write_bytes(bytes(range(256)) * (3 * 4096 + 7))  # just over 3 MiB
    second = tmp_path / "report-v2.bin"
    second.write_bytes(b"v2" * (2 * 1024 * 1024))  # 4 MiB
    env = {"DJANGO_DEBUG": "0", "BOLT_STATIC_ROOT": str(e2e_static), "BOLT_MEDIA_ROOT": str(media)}
    with bolt("--max-body-size", str(1024 * 1024), env=env) as server:
        page = browser.new_page()
        statuses = []
        page.on("response", lambda r: statuses.append((r.url, r.status)))
        page.goto(f"{server.url}/admin/login/?next=/admin/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "pw-admin-123")
        page.click("input[type=submit]")
        page.wait_for_url(f"{server.url}/admin/")

        page.goto(f"{server.url}/admin/users/document/add/")
        page.fill("#id_title", "Quarterly report")
        page.set_input_files("#id_file", str(first))
        page.click("input[name=_save]")
        page.wait_for_url(f"{server.url}/admin/users/document/")
        assert "Quarterly report" in page.inner_text("#result_list")
        (stored,) = (media / "documents").iterdir()
        assert stored.read_bytes() == first.read_bytes()

        # The change form shows the stored file and takes a replacement.
        page.click("#result_list a:text('Quarterly report')")
        page.wait_for_selector("#id_file")
        assert "documents/report" in page.inner_text(".file-upload")
        page.set_input_files("#id_file", str(second))
        page.click("input[name=_save]")
        page.wait_for_url(f"{server.url}/admin/users/document/")
        replaced = [p for p in (media / "documents").iterdir() if p.name.startswith("report-v2")]
        assert len(replaced) == 1 and replaced[0].read_bytes() == second.read_bytes()

        page.click("#logout-form button")
        page.wait_for_load_state()
        assert "Logged out" in page.content()
        failed = [(url, status) for url, status in statuses if status >= 400]
        assert not failed, failed
