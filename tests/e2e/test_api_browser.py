"""The API's pages in headless Chromium: an administrator creates a token (key shown once), opens the interactive
docs (local static files only, no request outside the site), then revokes the token."""

from urllib.parse import urlparse

import pytest

from api.models import ApiToken
from tests.e2e.browser import log_in, screenshots, staff_user


@pytest.mark.django_db(transaction=True)
def test_create_a_token_read_the_docs_and_revoke_it(live_server, programme_data, new_browser_page):
    admin = staff_user("chef", "Administrateur")
    admin.is_superuser = True
    admin.save()
    page = new_browser_page()
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if urlparse(request.url).hostname not in {urlparse(live_server.url).hostname}
            and not request.url.startswith(("data:", "blob:"))
            else None
        ),
    )
    log_in(page, live_server.url, "chef")

    page.goto(f"{live_server.url}/admin/api/apitoken/add/")
    page.select_option("#id_kind", "personal")
    page.fill("#id_name", "CRM du service commercial")
    page.select_option("#id_user", label="chef")
    screenshots(page, "api-token-add")
    page.click("input[name=_save]")
    message = page.locator(".messagelist .warning").inner_text()
    assert "affichée cette seule fois" in message
    key = "sgr_" + message.split("sgr_", 1)[1].strip()
    screenshots(page, "api-token-created")
    token = ApiToken.objects.get()
    page.goto(f"{live_server.url}/admin/api/apitoken/{token.pk}/change/")
    assert key not in page.content()

    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{live_server.url}/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    assert "Ségur" in page.locator(".swagger-ui .info .title").inner_text()
    page.get_by_text("/api/v1/orders/{number}/actions/{name}", exact=True).first.click()
    screenshots(page, "api-docs")
    assert not outside, outside
    assert not [error for error in errors if "Content Security Policy" in error], errors

    page.goto(f"{live_server.url}/admin/api/apitoken/")
    page.check(f"input[name=_selected_action][value='{token.pk}']")
    page.select_option("select[name=action]", "revoke_tokens")
    page.click("button[name=index]")
    assert "Jetons révoqués : 1." in page.locator(".messagelist").inner_text()
    screenshots(page, "api-token-revoked")
    token.refresh_from_db()
    assert token.revoked_at is not None
