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
