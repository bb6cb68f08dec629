"""The order page as a workspace (issue #10): the next step for this person, blocked actions folded, reserved actions
summarised, empty fields hidden, a French event log, and ASP returns shown on the page and in the list."""

import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clients.models import Client
from orders import services
from orders.event_labels import EVENT_LABELS
from orders.models import Order, OrderEvent
from orders.roles import ADMIN_GROUP, DEPLOYMENT_GROUP, FINANCE_GROUP, SALES_GROUP
from tests.factories import advance, make_order, make_solution, make_structure, make_user, paris, valid_rpps

TODAY = paris(2026, 11, 23, 10)
LIST_URL = reverse("admin:orders_order_changelist")

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


def page_of(client, order: Order, group: str) -> str:
    client.force_login(make_user(f"u-{group}", group))
    response = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert response.status_code == 200
    return response.content.decode()


def primary_action(content: str) -> str | None:
    primary = r'class="button default order-action order-primary" href="/admin/orders/order/\d+/action/(\w+)/"'
    found = re.search(primary, content)
    return found.group(1) if found else None


def record_asp_return(order: Order, kind: str, message: str, action: str = "return_advance") -> Order:
    finance = make_user(f"compta-{order.pk}-{kind}", FINANCE_GROUP)
    return services.perform(
        action, order_id=order.pk, acting_user=finance, params={"return_kind": kind, "asp_message": message}
    )


@pytest.mark.parametrize(
    ("state", "group", "primary"),
    [
        ("draft", SALES_GROUP, "sign"),
        ("firm", FINANCE_GROUP, "file_advance"),
        ("advance_requested", FINANCE_GROUP, "record_advance_paid"),
        ("firm", SALES_GROUP, None),
        ("advance_requested", DEPLOYMENT_GROUP, None),
    ],
)
def test_one_primary_button_for_the_next_step_of_this_person(client, state, group, primary):
    order = advance(make_order(client=make_structure()), state)

    content = page_of(client, order, group)

    assert primary_action(content) == primary
    assert content.count("order-primary") == (1 if primary else 0)
    if primary is None:
        assert "Rien à faire pour vous" in content


def test_nothing_to_do_names_who_acts_next(client):
    order = advance(make_order(), "firm")

    content = page_of(client, order, SALES_GROUP)

    assert "Prochaine étape : « Déposer la demande d&#x27;avance », par Finance." in content
    assert reverse("admin:orders_order_action", args=[order.pk, "cancel"]) in content  # still offered, secondary


def test_actions_blocked_by_a_rule_are_folded_with_their_reasons(client):
    order = advance(make_order(client=make_structure()), "installed")

    content = page_of(client, order, FINANCE_GROUP)

    assert primary_action(content) == "attest_completion"
    folded = content.split('<details class="order-blocked">', 1)[1].split("</details>", 1)[0]
    assert "Déclarer la non-réalisation" in folded and "réalisée avant la Date 5" in folded
    assert "Constater le retrait du référencement" in folded and "retrait du référencement sur la solution" in folded
    assert reverse("admin:orders_order_action", args=[order.pk, "declare_not_completed"]) not in content


def test_my_next_step_blocked_by_a_rule_says_why_instead_of_nothing_to_do(client):
    order = advance(make_order(client=make_structure()), "advance_paid")  # checklist not done: installation refused

    content = page_of(client, order, DEPLOYMENT_GROUP)

    assert primary_action(content) is None
    assert "Rien à faire pour vous" not in content
    step = content.split('class="order-waiting"', 1)[1].split("</ul>", 1)[0]
    assert "Prochaine étape pour vous : « Enregistrer l&#x27;installation »" in step
    assert "blocked-reasons" in step and "<li>" in step


def test_actions_blocked_only_by_the_role_are_summarised_in_one_line_per_role(client):
    order = advance(make_order(), "advance_requested")

    content = page_of(client, order, DEPLOYMENT_GROUP)

    assert "Votre rôle ne permet pas" not in content
    assert re.search(r"Réservé à : Finance — [^<]*Enregistrer le versement de l&#x27;avance", content)
    assert '<details class="order-blocked">' not in content  # nothing here is blocked by a rule for this role


def test_empty_dates_and_references_are_hidden(client):
    draft = advance(make_order(), "draft")
    requested = advance(make_order(client=make_structure()), "advance_requested")

    draft_page = page_of(client, draft, ADMIN_GROUP)
    requested_page = client.get(reverse("admin:orders_order_change", args=[requested.pk])).content.decode()

    assert "field-advance_asp_reference" not in draft_page
    assert "field-balance_paid_at" not in draft_page
    assert "field-advance_asp_reference" in requested_page
    assert "field-balance_paid_at" not in requested_page


def test_client_name_and_kind_in_the_header(client):
    order = advance(make_order(client=make_structure(kind="msp", tranche="C")), "draft")

    content = page_of(client, order, SALES_GROUP)

    header = content.split('<header class="order-header">', 1)[1].split("</header>", 1)[0]
    assert order.client.name in header
    assert "MSP · tranche C" in header


def written_event_codes() -> set[str]:
    """Every ``action="…"`` given to ``event_record`` in the project's code, plus the state machine's actions."""
    codes = set(services.ACTIONS)
    root = Path(settings.BASE_DIR)
    for path in root.glob("*/**/*.py"):
        if path.parts[len(root.parts)] in {".venv", "tests", "node_modules"}:
            continue
        text = path.read_text(encoding="utf-8")
        if "event_record(" in text and "OrderEvent" in text or "services.event_record(" in text:
            codes |= set(re.findall(r'\baction="([a-z_0-9]+)"', text))
    return codes


def test_every_event_code_written_by_the_services_has_a_french_label():
    codes = written_event_codes()

    assert {"create", "update_terms", "update_checklist", "invoice_issue", "sign", "return_advance"} <= codes
    assert codes - set(EVENT_LABELS) == set()
    assert all(label != code and "_" not in label for code, label in EVENT_LABELS.items())


def test_the_event_log_is_french_with_who_when_states_and_refusals(client):
    order = advance(make_order(), "firm")
    sales = make_user("vendeur", SALES_GROUP)
    with pytest.raises(services.BusinessRuleError):
        services.perform("cancel", order_id=order.pk, acting_user=sales, params={})

    content = page_of(client, order, ADMIN_GROUP)

    log = content.split('<table class="event-log">', 1)[1].split("</table>", 1)[0]
    assert "Signature du client enregistrée" in log
    assert "Brouillon → Commande ferme" in log
    assert "Tentative refusée : Annuler" in log and "Le motif est obligatoire" in log
    assert "vendeur" in log and "Système" in log
    assert re.search(r"\d\d/\d\d/\d{4} \d\d:\d\d", log)
    for raw in ("file_advance", "create", "{&quot;", "update_checklist", '"codes"'):
        assert raw not in log
    assert f"?order__id__exact={order.pk}" in content


def test_the_event_log_links_the_signed_document_kept_as_evidence(client):
    order = make_order()
    pdf = SimpleUploadedFile("signe.pdf", b"%PDF-1.4 signed", content_type="application/pdf")
    services.perform(
        "sign",
        order_id=order.pk,
        acting_user=None,
        params={
            "signed_at": paris(2026, 9, 2),
            "signature_method": "eidas_simple",
            "signatory_name": "Dr X",
            "signed_document": pdf,
        },
    )
    document_id = OrderEvent.objects.get(order=order, action="sign").payload["signed_document"]["document_id"]

    content = page_of(client, order, ADMIN_GROUP)

    assert reverse("admin:orders_document_download", args=[document_id]) in content
    assert "Document signé (preuve)" in content


def test_the_event_log_shows_the_latest_fifty_and_links_the_full_journal(client):
    order = make_order()
    for _ in range(55):
        with pytest.raises(services.BusinessRuleError):
            services.perform("cancel", order_id=order.pk, acting_user=None, params={})

    content = page_of(client, order, ADMIN_GROUP)

    assert content.count("Tentative refusée : Annuler") == 50
    assert "Les 50 derniers sur 56." in content
    journal = client.get(reverse("admin:orders_orderevent_changelist") + f"?order__id__exact={order.pk}")
    assert journal.status_code == 200


def test_document_kinds_and_asp_packages_only_where_they_apply(client):
    firm = advance(make_order(), "firm")

    content = page_of(client, firm, ADMIN_GROUP)

    options = re.findall(
        r'<option value="(\w+)">', content.split('id="order-document-kind"', 1)[1].split("</select>")[0]
    )
    assert options == ["order_form"]
    assert reverse("admin:orders_asp_package", args=[firm.pk, "advance"]) in content
    assert reverse("admin:orders_asp_package", args=[firm.pk, "balance"]) not in content
    refused = client.get(reverse("admin:orders_asp_package", args=[firm.pk, "balance"]))
    assert refused.status_code == 302


def test_an_asp_return_is_shown_on_the_page_until_the_request_is_filed_again(client):
    order = advance(make_order(client=make_structure()), "advance_requested")
    record_asp_return(order, "to_complete", "Le RIB du fournisseur est illisible.")

    content = page_of(client, order, FINANCE_GROUP)

    notice = content.split('<div class="asp-return', 1)[1].split("</div>", 1)[0]
    assert "demande d&#x27;avance à compléter" in notice
    assert "Le RIB du fournisseur est illisible." in notice
    assert "23/11/2026" in notice

    services.perform("file_advance", order_id=order.pk, acting_user=None, params={"received_at": TODAY})

    assert (
        '<div class="asp-return'
        not in client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    )


def test_a_refused_refiling_keeps_the_notice(client):
    order = advance(make_order(client=make_structure()), "advance_requested")
    record_asp_return(order, "rejected", "Dossier rejeté : hors délai.")
    OrderEvent.objects.create(order=order, actor_label="x", action="file_advance", accepted=False, message="non")

    content = page_of(client, order, FINANCE_GROUP)

    assert "asp-return-rejected" in content and "Dossier rejeté : hors délai." in content


def returned_orders(count: int, first: int = 0) -> list[Order]:
    """Orders in advance_requested, the odd ones returned "to complete", the even ones rejected (bulk: a cost test)."""
    solution = make_solution() if first == 0 else Order.objects.first().solution
    clients = Client.objects.bulk_create(
        Client(kind="doctor", name=f"Dr Retour {index}", rpps=valid_rpps(700_000 + index))
        for index in range(first, first + count)
    )
    orders = Order.objects.bulk_create(
        Order(
            number=f"BC-RET-{first + index:06d}",
            programme=solution.programme,
            client=client,
            solution=solution,
            prestation="principal_v2",
            vat_regime="vat_20",
            principal_amount=Decimal("451.50"),
            secondary_amount=Decimal("125.00"),
            issued_at=TODAY,
            state="firm",
        )
        for index, client in enumerate(clients)
    )
    for index, order in enumerate(orders, start=first):
        kind = "to_complete" if index % 2 else "rejected"
        OrderEvent.objects.create(order=order, actor_label="x", action="file_advance", from_state="firm")
        OrderEvent.objects.create(
            order=order,
            actor_label="x",
            action="return_advance",
            payload={"return_kind": kind, "asp_message": f"Message ASP numéro {index} " + "très long " * 10},
        )
    return orders


def list_page(client, **params) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIST_URL, params)
    assert response.status_code == 200
    return response.content.decode(), len(queries)


def test_the_list_shows_and_filters_asp_returns_with_a_constant_number_of_queries(client):
    client.force_login(make_user("chef", ADMIN_GROUP))
    orders = returned_orders(4)
    refiled = advance(make_order(client=make_structure()), "advance_requested")
    record_asp_return(refiled, "to_complete", "Corrigé depuis")
    services.perform("file_advance", order_id=refiled.pk, acting_user=None, params={"received_at": TODAY})

    content, few = list_page(client, retour_asp="oui")
    assert all(order.number in content for order in orders)
    assert refiled.number not in content
    assert "Retournée par l&#x27;ASP" in content or "retournée par l&#x27;ASP" in content
    assert re.search(
        r'title="Message ASP numéro 1 très long[^"]*">Retour ASP — À compléter : Message ASP numéro 1 [^<]*…</span>',
        content,
    )

    to_complete, _ = list_page(client, retour_asp="a_completer")
    rejected, _ = list_page(client, retour_asp="rejetee")
    assert orders[1].number in to_complete and orders[0].number not in to_complete
    assert orders[0].number in rejected and orders[1].number not in rejected

    returned_orders(16, first=4)
    content, many = list_page(client, retour_asp="oui")
    assert "BC-RET-000019" in content
    assert many == few
