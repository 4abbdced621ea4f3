"""Each documentation UI rendered by headless Chromium from a real runbolt, with every
request that is not to the server itself refused: the docs need no network."""

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

UIS = {
    # page -> a selector that shows the route list has rendered
    "docs": ".opblock-summary-path[data-path='/api/items/{item_id}']",
    "redoc": "text=Get item",
    "scalar": "text=Get item",
    "rapiddoc": "text=Get item",
}


@pytest.fixture(scope="module")
def server(e2e_db):
    from django_bolt.testing import run_bolt
    from tests.conftest import MANAGE_PY

    with run_bolt(manage_py=str(MANAGE_PY), env={"BOLT_SQLITE_PATH": str(e2e_db)}) as proc:
        yield proc


@pytest.mark.parametrize("ui", list(UIS))
def test_docs_ui_renders_offline(server, browser, ui, tmp_path):
    page = browser.new_page()
    refused, errors = [], []
    local = f"http://127.0.0.1:{server.port}/"

    def only_local(route):
        if route.request.url.startswith(local):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Scripts must all be allowed by the page's policy (fonts a UI would fetch from the
    # web are refused by it, and the UI falls back to local fonts).
    page.on(
        "console",
        lambda m: errors.append(m.text) if "script-src" in m.text else None,
    )
    page.goto(f"{local}api/{ui}")
    page.wait_for_selector(UIS[ui], timeout=60_000)
    shot = tmp_path / f"{ui}.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000
    assert refused == [], f"{ui} tried to reach the network: {refused}"
    assert errors == [], errors
    page.close()
