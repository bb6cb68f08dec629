"""The client space: personal links (expiry, revocation, removed address), only the client's own orders and documents,
what the client must sign and by when, and the audit trail of every link, visit and download."""

import html
import re
from datetime import timedelta

import pytest
import time_machine
from django.core import signing
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import strip_tags

from clients.models import ContactPerson
from monitoring.models import OutboxEmail
from orders.documents import document_generate
from orders.invoices import invoice_render
from orders.roles import SALES_GROUP
from portal import services
from portal.access import access_token, access_url
from portal.models import PortalEvent, PortalEventKind
from tests.factories import advance, make_doctor, make_order, make_solution, make_user, paris

pytestmark = pytest.mark.django_db


def open_space(browser, client, email=None):
    return browser.get(reverse("portal:access", args=[access_token(client, email or client.email)]))


def text(response) -> str:
    return html.unescape(response.content.decode())


def visible(response) -> str:
    """The page as read, tags removed and spaces collapsed."""
    return " ".join(strip_tags(text(response)).split())


def link_in(text: str) -> str:
    return re.search(r"http://[^\s\"]+/espace-client/acces/[^\s\"]+/", text).group(0)


@pytest.fixture
def installed_order():
    solution = make_solution()
    order = advance(make_order(solution=solution, client=make_doctor(email="dr.martin@cabinet.example")), "installed")
    return order


def test_a_link_opens_the_space_without_leaving_the_token_in_the_address_bar_and_is_logged(client, installed_order):
    response = open_space(client, installed_order.client)

    assert response.status_code == 302 and response["Location"] == reverse("portal:home")
    page = client.get(reverse("portal:home"))
    assert page.status_code == 200
    assert installed_order.number in text(page)
    login = PortalEvent.objects.get(kind=PortalEventKind.LOGIN)
    assert (login.client, login.email) == (installed_order.client, "dr.martin@cabinet.example")


def test_the_order_page_says_what_to_sign_before_date_5_and_offers_the_document(
    client, installed_order, django_assert_max_num_queries
):
    va = document_generate(order_id=installed_order.pk, kind="va", acting_user=None)
    open_space(client, installed_order.client)

    with django_assert_max_num_queries(8):
        response = client.get(reverse("portal:order", args=[installed_order.number]))
    page, read = text(response), visible(response)

    assert "Ce qu'il vous reste à faire" in page
    assert "Signer la Vérification d'aptitude" in page
    date_5 = timezone.localtime(installed_order.programme.date_5)
    assert f"au plus tard le {date_format(date_5, 'l j F Y')} à 12 h" in read  # «12 h», issue #12
    assert "AF §" not in page  # no section numbers for clients (issue #12)
    assert reverse("portal:document", args=[va.pk]) in page
    assert "Mise à jour installée" in page and "étape en cours" in page


def test_another_clients_order_and_documents_do_not_exist_for_this_client(client, installed_order):
    other = advance(make_order(client=make_doctor(email="other@cabinet.example")), "firm")
    other_form = document_generate(order_id=other.pk, kind="order_form", acting_user=None)
    open_space(client, installed_order.client)

    assert client.get(reverse("portal:order", args=[other.number])).status_code == 404
    assert client.get(reverse("portal:document", args=[other_form.pk])).status_code == 404
    assert other.number not in text(client.get(reverse("portal:home")))
    assert not PortalEvent.objects.filter(kind=PortalEventKind.DOWNLOAD).exists()


def test_a_download_serves_the_pdf_and_is_recorded(client, installed_order):
    form = document_generate(order_id=installed_order.pk, kind="order_form", acting_user=None)
    open_space(client, installed_order.client)

    response = client.get(reverse("portal:document", args=[form.pk]))

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert f"bon-de-commande-{installed_order.number}-v1.pdf" in response["Content-Disposition"]
    download = PortalEvent.objects.get(kind=PortalEventKind.DOWNLOAD)
    assert (download.order_id, download.document_id) == (installed_order.pk, form.pk)


def test_without_a_link_every_page_sends_to_the_link_request_form(client, installed_order):
    response = client.get(reverse("portal:order", args=[installed_order.number]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("portal:request_link")
    assert "utilisez le lien personnel reçu par e-mail" in text(response)


def test_an_expired_link_is_refused_in_french_and_the_refusal_is_logged(client, installed_order):
    token = access_token(installed_order.client, installed_order.client.email)
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        response = client.get(reverse("portal:access", args=[token]))

    assert response.status_code == 403
    assert "Ce lien a expiré : un lien d'accès est valable 30 jours." in text(response)
    assert PortalEvent.objects.get(kind=PortalEventKind.LINK_REFUSED).message == "lien refusé : expired"
    assert client.get(reverse("portal:home")).status_code == 302


def test_an_altered_link_is_refused(client, installed_order):
    token = access_token(installed_order.client, installed_order.client.email)
    forged = signing.dumps({"c": installed_order.client.pk + 1, "e": "x@y.fr", "t": 0}, salt="not-the-portal")

    assert client.get(reverse("portal:access", args=[token[:-3] + "abc"])).status_code == 403
    response = client.get(reverse("portal:access", args=[forged]))
    assert response.status_code == 403 and "n'est pas valide" in text(response)


def test_revoking_kills_sent_links_and_open_sessions_but_not_new_links(client, installed_order):
    staff = make_user("commercial", SALES_GROUP)
    old_token = access_token(installed_order.client, installed_order.client.email)
    open_space(client, installed_order.client)
    assert client.get(reverse("portal:home")).status_code == 200

    services.access_links_revoke(client_id=installed_order.client.pk, acting_user=staff)

    response = client.get(reverse("portal:home"), follow=True)
    assert "Ce lien a été révoqué par votre éditeur." in text(response)
    assert client.get(reverse("portal:access", args=[old_token])).status_code == 403
    installed_order.client.refresh_from_db()
    assert open_space(client, installed_order.client).status_code == 302
    assert client.get(reverse("portal:home")).status_code == 200
    assert PortalEvent.objects.get(kind=PortalEventKind.LINKS_REVOKED).actor == staff


def test_a_link_sent_to_a_contact_stops_working_when_the_contact_is_removed(client, installed_order):
    contact = ContactPerson.objects.create(
        client=installed_order.client, name="Secrétariat", email="Secretariat@Cabinet.example"
    )
    token = access_token(installed_order.client, contact.email)
    assert client.get(reverse("portal:access", args=[token])).status_code == 302

    contact.delete()

    assert "n'est plus associée à ce client" in text(client.get(reverse("portal:home"), follow=True))
    assert client.get(reverse("portal:access", args=[token])).status_code == 403


def test_asking_for_a_link_sends_one_that_works_and_says_the_same_for_unknown_addresses(client, installed_order):
    known = client.post(reverse("portal:request_link"), {"email": " DR.Martin@cabinet.example "})
    unknown = client.post(reverse("portal:request_link"), {"email": "nobody@nowhere.example"})

    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == reverse("portal:request_link") + "?envoye=1"
    email = OutboxEmail.objects.get(kind="portal_link")
    assert email.to == "dr.martin@cabinet.example"
    assert "valable 30 jours" in email.body_text
    assert client.get(link_in(email.body_text).removeprefix("http://127.0.0.1:8000")).status_code == 302
    assert installed_order.number in text(client.get(reverse("portal:home")))


def test_link_requests_are_limited_per_address_and_hour(client, installed_order):
    for _ in range(5):
        client.post(reverse("portal:request_link"), {"email": "dr.martin@cabinet.example"})

    assert OutboxEmail.objects.filter(kind="portal_link").count() == 3
    assert PortalEvent.objects.filter(kind=PortalEventKind.LINK_REFUSED).count() == 2
    with time_machine.travel(timezone.now() + timedelta(hours=1, minutes=1)):
        client.post(reverse("portal:request_link"), {"email": "dr.martin@cabinet.example"})
    assert OutboxEmail.objects.filter(kind="portal_link").count() == 4


def test_a_bad_address_is_refused_with_a_french_message_on_the_field(client):
    response = client.post(reverse("portal:request_link"), {"email": "pas-une-adresse"})

    assert response.status_code == 200
    assert "Saisissez une adresse e-mail valide" in text(response)
    assert not PortalEvent.objects.exists()


def test_logging_out_ends_the_session_and_is_logged(client, installed_order):
    open_space(client, installed_order.client)

    response = client.post(reverse("portal:logout"), follow=True)

    assert "Vous êtes déconnecté" in text(response)
    assert client.get(reverse("portal:home")).status_code == 302
    assert PortalEvent.objects.filter(kind=PortalEventKind.LOGOUT, client=installed_order.client).count() == 1


def test_a_link_is_only_sent_to_an_address_of_the_client(installed_order):
    from orders.exceptions import BusinessRuleError

    with pytest.raises(BusinessRuleError) as refused:
        services.access_link_send(client=installed_order.client, email="stranger@example.org")

    assert refused.value.violations[0].field == "email"
    assert not OutboxEmail.objects.exists()


def test_staff_send_and_revoke_links_from_the_client_list(client, installed_order):
    no_address = make_doctor(email="")
    staff = make_user("c.durand", SALES_GROUP)
    client.force_login(staff)
    changelist = reverse("admin:clients_client_changelist")

    response = client.post(
        changelist,
        {"action": "send_portal_link", "_selected_action": [installed_order.client.pk, no_address.pk]},
        follow=True,
    )

    page = text(response)
    assert "Lien d'accès envoyé à 1 client (boîte d'envoi)" in page
    assert "aucune adresse e-mail" in page
    sent = PortalEvent.objects.get(kind=PortalEventKind.LINK_SENT)
    assert (sent.client, sent.actor) == (installed_order.client, staff)
    client.post(changelist, {"action": "revoke_portal_links", "_selected_action": [installed_order.client.pk]})
    installed_order.client.refresh_from_db()
    assert installed_order.client.portal_links_revoked_at is not None
    journal = client.get(reverse("admin:portal_portalevent_changelist"))
    assert journal.status_code == 200 and "Liens révoqués" in text(journal)


def test_the_signed_copy_and_invoices_are_listed_latest_version_first(client):
    order = advance(make_order(client=make_doctor(email="dr.x@cabinet.example")), "balance_requested")
    invoice_render(invoice_id=order.invoices.get().pk)
    document_generate(order_id=order.pk, kind="order_form", acting_user=None)
    second = document_generate(order_id=order.pk, kind="order_form", acting_user=None)
    open_space(client, order.client)

    page = text(client.get(reverse("portal:order", args=[order.number])))

    assert reverse("portal:document", args=[second.pk]) in page
    # one line per document; its version is shown only because several exist (issue #12)
    assert page.count('Bon de commande <span class="muted">(version 2)</span></td>') == 1 and "version 1" not in page
    invoice = order.invoices.get()
    assert f"n° {invoice.number}" in page
    assert "Solde versé par l'ASP" in page


def test_a_side_exit_says_so_and_leaves_no_step_current(client):
    order = make_order(client=make_doctor(email="dr.y@cabinet.example"), solution=make_solution())
    from orders import services as order_services

    order_services.perform(
        "cancel", order_id=order.pk, acting_user=None, params={"reason": "doublon"}, now=paris(2026, 9, 2)
    )
    open_space(client, order.client)

    page = text(client.get(reverse("portal:order", args=[order.number])))

    assert "Cette commande a été annulée." in page
    assert "étape en cours" not in page


def test_a_link_from_an_order_e_mail_lands_on_that_order_and_never_outside_the_space(client, installed_order):
    url = access_url(installed_order.client, installed_order.client.email, order_number=installed_order.number)
    path = url.removeprefix("http://127.0.0.1:8000")

    assert client.get(path)["Location"] == reverse("portal:order", args=[installed_order.number])
    token = access_token(installed_order.client, installed_order.client.email)
    for elsewhere in ("https://evil.example/", "//evil.example/espace-client/", "/admin/"):
        response = client.get(reverse("portal:access", args=[token]), {"suite": elsewhere})
        assert response["Location"] == reverse("portal:home")


def test_the_reminder_to_sign_the_va_carries_a_personal_link_to_the_order(client, installed_order):
    from monitoring.reminders import deadlines_scan, outbox_render_pending
    from portal.signing import signature_request_send

    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        signature_request_send(order_id=installed_order.pk, acting_user=None)
    with time_machine.travel(installed_order.programme.date_5.replace(hour=7), tick=False):
        deadlines_scan()
        outbox_render_pending()  # the sender renders the body (and issues the link) before sending
    reminder = OutboxEmail.objects.get(kind="client_reminder", to="dr.martin@cabinet.example")

    assert "Ouvrir mon espace client" in reminder.body_html
    link = re.search(r"http://\S+/espace-client/acces/\S+", reminder.body_text).group(0)
    response = client.get(link.removeprefix("http://127.0.0.1:8000"), follow=True)
    assert "Signer la Vérification d'aptitude" in text(response)
    assert response.redirect_chain[-1][0] == reverse("portal:order", args=[installed_order.number])


def test_the_client_page_links_to_its_portal_journal_and_shows_a_revocation(client, installed_order):
    staff = make_user("c.durand", SALES_GROUP)
    services.access_links_revoke(client_id=installed_order.client.pk, acting_user=staff)
    client.force_login(staff)

    page = text(client.get(reverse("admin:clients_client_change", args=[installed_order.client.pk])))

    assert "Journal de l'espace client (1 événement)" in page
    assert f"?client__id__exact={installed_order.client.pk}" in page
    assert "liens révoqués le" in page


def test_without_its_own_e_mail_a_client_gets_the_link_at_its_signatory_contact():
    structure = make_doctor(email="")
    ContactPerson.objects.create(client=structure, name="Accueil", email="accueil@cabinet.example")
    ContactPerson.objects.create(client=structure, name="Dr Signe", email="signe@cabinet.example", is_signatory=True)

    email = services.access_link_send_to_client(client=structure)

    assert email.to == "signe@cabinet.example"
