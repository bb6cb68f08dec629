import pytest


@pytest.fixture(autouse=True)
def reminders_without_sending(monkeypatch):
    """These tests describe the deadline engine's reminders themselves, on orders whose documents were never sent
    for signature: they run with the gate of issue #12 off (the gate is tested in tests/portal/test_invitations.py).
    Set in the environment, so that a real worker started by a test has it too."""
    monkeypatch.setenv("SEGUR_CLIENT_REMINDERS_AFTER_SENDING", "0")
