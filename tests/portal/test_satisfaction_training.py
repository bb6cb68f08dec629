"""Issue #12: the satisfaction questionnaire after the VA (AF §6.1) with its staff summary and export, and the
training sessions offered in the client space (AF §3.2)."""

import html
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from orders.roles import ADMIN_GROUP
from portal.access import access_token
from portal.models import SatisfactionAnswer, TrainingSession
from tests.factories import advance, make_doctor, make_order, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

ANSWERS = {"overall": "4", "installation": "5", "support": "3", "recommend": "oui", "comment": "=HYPERLINK()"}


def open_space(browser, order):
    browser.get(reverse("portal:access", args=[access_token(order.client, order.client.email)]))


def test_the_questionnaire_is_offered_after_the_va_answered_once_summarised_and_exported(client):
    order = advance(make_order(client=make_doctor(email="dr.s@cabinet.example")), "va_signed")
    open_space(client, order)
    assert "Répondre au questionnaire" in client.get(reverse("portal:order", args=[order.number])).content.decode()

    refused = client.post(reverse("portal:satisfaction", args=[order.number]), {"overall": "9"})
    assert refused.status_code == 400 and "choisissez une note de 1 à 5" in html.unescape(refused.content.decode())
    client.post(reverse("portal:satisfaction", args=[order.number]), ANSWERS)
    client.post(reverse("portal:satisfaction", args=[order.number]), {**ANSWERS, "overall": "1"})

    answer = SatisfactionAnswer.objects.get()  # answered once: the second answer was not taken
    assert (answer.overall, answer.recommend) == (4, True)
    staff = make_user("chef", ADMIN_GROUP)
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    summary = html.unescape(client.get(reverse("admin:portal_satisfactionanswer_changelist")).content.decode())
    assert "4,0 / 5" in summary and "100 %" in summary
    export = client.get(reverse("admin:portal_satisfactionanswer_export")).content.decode("utf-8-sig")
    assert order.number in export and "'=HYPERLINK()" in export


def test_the_questionnaire_waits_for_the_va(client):
    order = advance(make_order(client=make_doctor(email="dr.w@cabinet.example")), "installed")
    open_space(client, order)
    assert "Répondre au questionnaire" not in client.get(reverse("portal:order", args=[order.number])).content.decode()
    assert client.post(reverse("portal:satisfaction", args=[order.number]), ANSWERS).status_code == 302
    assert not SatisfactionAnswer.objects.exists()


def test_training_sessions_are_listed_upcoming_first_with_their_links(client):
    order = make_order(client=make_doctor(email="dr.t@cabinet.example"))
    now = timezone.now()
    TrainingSession.objects.create(
        title="Prise en main du DMP",
        starts_at=now + timedelta(days=3, hours=2),
        format="remote",
        link="https://visio.example/dmp",
        material="https://docs.example/dmp.pdf",
    )
    TrainingSession.objects.create(title="Replay INS", format="recording", link="https://video.example/ins")
    open_space(client, order)

    page = html.unescape(client.get(reverse("portal:trainings")).content.decode())

    assert page.index("Prise en main du DMP") < page.index("Replay INS")
    assert "https://visio.example/dmp" in page and "Support de formation" in page and "Voir l'enregistrement" in page
    assert "à 12 h" in page
