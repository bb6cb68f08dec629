import pytest
from celery import Celery
from django.db import DatabaseError

from monitoring import selectors


@pytest.mark.django_db
def test_healthz_is_200_when_database_and_broker_answer(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True


@pytest.mark.django_db
def test_healthz_is_503_and_names_the_broker_when_the_broker_is_down(client, monkeypatch):
    # Nothing listens on port 1: the same as a Redis server that stopped.
    # Celery reads CELERY_BROKER_URL from the environment before any configured value.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setattr(selectors, "celery_app", Celery("stopped-broker"))

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is False
    assert body["broker"]["transport"] == "redis"
    assert "127.0.0.1:1" in body["broker"]["error"]


@pytest.mark.django_db
def test_healthz_is_503_when_the_database_is_down(client, monkeypatch):
    class UnreachableDatabase:
        vendor = "postgresql"

        def cursor(self):
            raise DatabaseError("connection to server at 127.0.0.1, port 5432 failed: Connection refused")

    monkeypatch.setattr(selectors, "connection", UnreachableDatabase())
    monkeypatch.setattr(selectors, "last_worker_heartbeat", lambda: None)

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["database"]["ok"] is False
    assert "Connection refused" in body["database"]["error"]
    assert body["broker"]["ok"] is True
