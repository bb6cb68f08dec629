"""What the browser tests share: the test password, logging in as a person does, screenshots kept to be looked at."""

from pathlib import Path

from django.conf import settings

from tests.factories import make_user

PASSWORD = "mot-de-passe-de-test"  # noqa: S105 (a test login)
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"


def staff_user(username: str, group: str):
    user = make_user(username, group)
    user.set_password(PASSWORD)
    user.save()
    return user


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


def screenshots(page, name: str) -> None:
    """The whole page on a wide screen and on a phone, kept under var/screenshots/ to be looked at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1440, "height": 900})
