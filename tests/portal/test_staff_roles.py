"""Who does what with the client space's records in the admin (issue #12): deployment offers the training sessions
(AF §3.2) and reads the questionnaire's summary (AF §6.1) and the signing evidence; sales read the evidence; finance
reads all three; the administrator holds everything. Nobody edits an answer or an evidence row."""

import pytest
from django.urls import reverse

from orders.roles import ADMIN_GROUP, DEPLOYMENT_GROUP, FINANCE_GROUP, SALES_GROUP
from portal.models import TrainingSession
from tests.factories import make_user

pytestmark = pytest.mark.django_db

TRAININGS = reverse("admin:portal_trainingsession_changelist")
ADD_TRAINING = reverse("admin:portal_trainingsession_add")
ANSWERS = reverse("admin:portal_satisfactionanswer_changelist")
EXPORT = reverse("admin:portal_satisfactionanswer_export")
EVIDENCE = reverse("admin:portal_signatureevidence_changelist")

# (list of trainings, add a training, questionnaire summary, its export, evidence): 200 allowed, 403 refused.
EXPECTED = {
    SALES_GROUP: {TRAININGS: 403, ADD_TRAINING: 403, ANSWERS: 403, EXPORT: 403, EVIDENCE: 200},
    DEPLOYMENT_GROUP: {TRAININGS: 200, ADD_TRAINING: 200, ANSWERS: 200, EXPORT: 200, EVIDENCE: 200},
    FINANCE_GROUP: {TRAININGS: 200, ADD_TRAINING: 403, ANSWERS: 200, EXPORT: 200, EVIDENCE: 200},
    ADMIN_GROUP: {TRAININGS: 200, ADD_TRAINING: 200, ANSWERS: 200, EXPORT: 200, EVIDENCE: 200},
}


@pytest.mark.parametrize("group", list(EXPECTED))
def test_each_role_reaches_exactly_its_portal_pages(client, group):
    client.force_login(make_user(f"user-{len(group)}", group))

    statuses = {url: client.get(url).status_code for url in EXPECTED[group]}

    assert statuses == EXPECTED[group]


@pytest.mark.parametrize("group", [DEPLOYMENT_GROUP, ADMIN_GROUP])
def test_deployment_and_the_administrator_add_and_change_a_training_session(client, group):
    user = make_user("formateur", group)
    client.force_login(user)
    form = {"title": "Prise en main de la version 12", "format": "remote", "link": "https://visio.example/s1"}

    response = client.post(ADD_TRAINING, {**form, "starts_at_0": "08/12/2026", "starts_at_1": "14:00"})
    session = TrainingSession.objects.get()
    changed = client.post(
        reverse("admin:portal_trainingsession_change", args=[session.pk]),
        {**form, "title": "Prise en main (2e session)", "starts_at_0": "15/12/2026", "starts_at_1": "14:00"},
    )

    assert response.status_code == changed.status_code == 302
    session.refresh_from_db()
    assert (session.title, session.created_by) == ("Prise en main (2e session)", user)


@pytest.mark.parametrize("group", [SALES_GROUP, DEPLOYMENT_GROUP, FINANCE_GROUP])
def test_no_staff_role_deletes_a_training_session_nor_edits_the_records(client, group):
    user = make_user("staff", group)
    session = TrainingSession.objects.create(title="Session", format="remote")

    assert not user.has_perm("portal.delete_trainingsession")
    assert not any(
        user.has_perm(f"portal.{verb}_{model}")
        for verb in ("add", "change", "delete")
        for model in ("satisfactionanswer", "signatureevidence")
    )
    client.force_login(user)
    assert (
        client.post(reverse("admin:portal_trainingsession_delete", args=[session.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert TrainingSession.objects.filter(pk=session.pk).exists()
