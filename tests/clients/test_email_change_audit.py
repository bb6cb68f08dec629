"""A change of a client's e-mail is written to the client's journal (who, when, old → new) and revokes every
client-space link sent so far, whoever makes it (admin form, import, API) — ``clients.services.client_update``."""

import html

import pytest
from django.urls import reverse

from clients.models import ClientChange
from clients.services import client_update
from orders.exceptions import BusinessRuleError
from orders.roles import SALES_GROUP
from portal.access import access_token
from portal.models import PortalEvent, PortalEventKind
from portal.services import access_links_revoke
from tests.factories import make_doctor, make_user

pytestmark = pytest.mark.django_db


def test_an_e_mail_change_is_journaled_and_revokes_the_links_sent_before(client):
    doctor = make_doctor(email="dr.martin@cabinet.example")
    staff = make_user("commercial", SALES_GROUP)
    old_link = access_token(doctor, "dr.martin@cabinet.example")
    assert client.get(reverse("portal:access", args=[old_link])).status_code == 302

    updated = client_update(client=doctor, acting_user=staff, email="secretariat@cabinet.example")

    change = ClientChange.objects.get()
    assert (change.client, change.field, change.actor) == (doctor, "email", staff)
    assert (change.old_value, change.new_value) == ("dr.martin@cabinet.example", "secretariat@cabinet.example")
    assert updated.portal_links_revoked_at is not None
    doctor.refresh_from_db()
    assert doctor.portal_links_revoked_at == updated.portal_links_revoked_at
    assert PortalEvent.objects.get(kind=PortalEventKind.LINKS_REVOKED).actor == staff
    session_end = client.get(reverse("portal:home"), follow=True)  # the open session ended…
    assert "Ce lien a été révoqué par votre éditeur." in html.unescape(session_end.content.decode())
    assert client.get(reverse("portal:access", args=[old_link])).status_code == 403  # …and the link is dead


def test_other_changes_are_not_journaled_and_keep_the_links():
    doctor = make_doctor(email="dr.martin@cabinet.example")

    client_update(client=doctor, acting_user=None, city="Nantes", email=" dr.martin@cabinet.example ")

    assert not ClientChange.objects.exists()
    doctor.refresh_from_db()
    assert doctor.portal_links_revoked_at is None
    assert not PortalEvent.objects.filter(kind=PortalEventKind.LINKS_REVOKED).exists()


def test_a_refused_change_journals_nothing_and_revokes_nothing():
    doctor = make_doctor(email="dr.martin@cabinet.example")

    with pytest.raises(BusinessRuleError):
        client_update(client=doctor, email="pirate@example.org\nBcc: x@example.org")

    assert not ClientChange.objects.exists()
    doctor.refresh_from_db()
    assert (doctor.email, doctor.portal_links_revoked_at) == ("dr.martin@cabinet.example", None)


def test_the_old_value_is_the_stored_one_even_when_the_instance_was_already_changed():
    """The admin form and the import write the new values on the instance before calling the service."""
    doctor = make_doctor(email="dr.martin@cabinet.example")
    doctor.email = "pirate@example.org"

    client_update(client=doctor)

    change = ClientChange.objects.get()
    assert (change.old_value, change.new_value, change.actor) == (
        "dr.martin@cabinet.example",
        "pirate@example.org",
        None,
    )


def test_the_admin_change_form_journals_the_staff_member_who_changed_the_e_mail(client):
    doctor = make_doctor(email="dr.martin@cabinet.example")
    staff = make_user("root", is_superuser=True)
    client.force_login(staff)
    form = {
        "kind": "doctor",
        "name": doctor.name,
        "rpps": doctor.rpps,
        "email": "nouvelle@cabinet.example",
        "treating_patient_count": "40",
        "liberal_doctor_count": "0",
        "salaried_doctor_count": "0",
        "contacts-TOTAL_FORMS": "0",
        "contacts-INITIAL_FORMS": "0",
    }

    response = client.post(reverse("admin:clients_client_change", args=[doctor.pk]), form)

    assert response.status_code == 302
    change = ClientChange.objects.get()
    assert (change.actor, change.old_value, change.new_value) == (
        staff,
        "dr.martin@cabinet.example",
        "nouvelle@cabinet.example",
    )
    doctor.refresh_from_db()
    assert doctor.portal_links_revoked_at is not None


def test_a_form_saved_after_a_revocation_does_not_bring_the_links_back():
    doctor = make_doctor(email="dr.martin@cabinet.example")
    stale = type(doctor).objects.get(pk=doctor.pk)  # loaded by a form before the revocation

    access_links_revoke(client_id=doctor.pk, acting_user=None)
    client_update(client=stale, city="Nantes")

    doctor.refresh_from_db()
    assert doctor.portal_links_revoked_at is not None and doctor.city == "Nantes"


def test_the_journal_is_write_once():
    doctor = make_doctor(email="dr.martin@cabinet.example")
    client_update(client=doctor, email="autre@cabinet.example")
    change = ClientChange.objects.get()

    change.new_value = "effacé@example.org"
    with pytest.raises(ValueError, match="ne se modifie jamais"):
        change.save()
    with pytest.raises(ValueError, match="ne se supprime jamais"):
        change.delete()
