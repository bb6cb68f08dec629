import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse

PRODUCTION_ENVIRONMENT = {
    "DJANGO_SETTINGS_MODULE": "segur_portal.settings.production",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "ALLOWED_HOSTS": "segur.example.org",
    "DATABASE_URL": "postgres://segur@127.0.0.1:5432/segur",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
}


def run_manage(*args: str, extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in {"DJANGO_SETTINGS_MODULE", "SECRET_KEY"}}
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=Path(settings.BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_settings_pass_check_deploy_with_no_warning():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", extra_env=PRODUCTION_ENVIRONMENT)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    environment = {**PRODUCTION_ENVIRONMENT, "SECRET_KEY": ""}

    result = run_manage("check", extra_env=environment)

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_timezone_and_language_are_french():
    assert settings.TIME_ZONE == "Europe/Paris"
    assert settings.USE_TZ is True
    assert settings.LANGUAGE_CODE == "fr"


@pytest.mark.django_db
def test_staff_login_is_locked_after_repeated_wrong_passwords_then_unlocks_after_the_cool_off(client):
    import time_machine
    from django.utils import timezone

    get_user_model().objects.create_user("alice", password="correct-horse-battery", is_staff=True)
    login_url = reverse("admin:login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(login_url, {"username": "alice", "password": "wrong"}, REMOTE_ADDR="10.0.0.1")

    locked = client.post(login_url, {"username": "alice", "password": "correct-horse-battery"}, REMOTE_ADDR="10.0.0.1")

    assert locked.status_code == 429
    with time_machine.travel(timezone.now() + settings.AXES_COOLOFF_TIME + settings.AXES_COOLOFF_TIME / 10):
        unlocked = client.post(
            login_url, {"username": "alice", "password": "correct-horse-battery"}, REMOTE_ADDR="10.0.0.1"
        )
    assert unlocked.status_code == 302


def test_sessions_expire():
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    assert settings.SESSION_COOKIE_AGE <= 12 * 3600
