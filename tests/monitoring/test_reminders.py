"""The deadline engine: reminders once per (deadline, offset, recipient), consequences, outbox, calendar."""

from datetime import date, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse

from monitoring import reminders
from monitoring.models import JobRun, OutboxEmail, ReminderDispatch
from orders import rules, services
from orders.models import OrderEvent
from orders.roles import ADMIN_GROUP, FINANCE_GROUP, SALES_GROUP
from tests.factories import advance, lgc_programme, make_order, make_solution, make_user, paris

SIGNATURE = {"signature_method": "eidas_simple", "signatory_name": "Dr X"}


@pytest.fixture
def team(db):
    return {
        "sales": make_user("vente", SALES_GROUP, email="vente@logimed.example"),
        "finance": make_user("compta", FINANCE_GROUP, email="compta@logimed.example"),
        "admin": make_user("chef", ADMIN_GROUP, email="chef@logimed.example"),
    }


def scan_at(moment):
    with time_machine.travel(moment, tick=False):
        return reminders.deadlines_scan()


@pytest.mark.parametrize(
    ("days_left", "expected"),
    [
        (45, None),
        (31, None),
        (30, "30"),
        (20, "30"),
        (14, "14"),
        (13, "14"),
        (8, "14"),
        (7, "7"),
        (2, "2"),
        (1, "1"),
        (0, "0"),
        (-1, "overdue"),
    ],
)
def test_the_reminder_due_is_the_nearest_offset_reached(days_left, expected):
    due = date(2026, 12, 16)

    assert reminders.reminder_offset(due, due - timedelta(days=days_left), [30, 14, 7, 2, 1, 0]) == expected


@pytest.mark.django_db
def test_a_deadline_gets_each_reminder_once_over_the_days_then_one_escalation(team):
    with time_machine.travel(paris(2026, 11, 1, 9), tick=False):
        order = make_order(salesperson=team["sales"], issued_at=paris(2026, 10, 30))  # draft: sign before Date 4
    day = paris(2026, 11, 1, 7)
    while day < paris(2026, 12, 20, 7):
        scan_at(day)
        scan_at(day + timedelta(minutes=5))  # beat fires twice, or someone clicks "run now"
        day += timedelta(days=1)

    sales = ReminderDispatch.objects.filter(order=order, recipient=f"user:{team['sales'].pk}")
    assert sorted(sales.values_list("offset", flat=True)) == sorted(["30", "14", "7", "2", "1", "0", "overdue"])
    escalated = ReminderDispatch.objects.filter(order=order, offset="overdue").values_list("recipient", flat=True)
    assert set(escalated) == {f"user:{team[role].pk}" for role in ("sales", "finance", "admin")}
    assert JobRun.objects.count() == 49


@pytest.mark.django_db
def test_a_missed_day_catches_up_with_the_reminder_it_missed(team):
    with time_machine.travel(paris(2026, 11, 1, 9), tick=False):
        order = make_order(salesperson=team["sales"], issued_at=paris(2026, 10, 30))

    scan_at(paris(2026, 12, 3, 7))  # J-13: the J-14 run (2 December) never happened

    sent = ReminderDispatch.objects.filter(order=order).values_list("recipient", "offset")
    assert sorted(sent) == sorted([(f"user:{team['sales'].pk}", "14"), (order.client.email, "14")])


@pytest.mark.django_db
def test_noon_boundary_on_the_deadline_day(team):
    with time_machine.travel(paris(2026, 11, 1, 9), tick=False):
        order = make_order(salesperson=team["sales"], issued_at=paris(2026, 10, 30))
    summary = reminders.ScanSummary(run_date="")

    before = reminders.due_reminders(paris(2026, 12, 16, 11, 59, 59), summary)
    after = reminders.due_reminders(paris(2026, 12, 16, 12, 0, 1), summary)

    assert [(r.order.pk, r.offset) for r in before] == [(order.pk, "0")]
    assert [(r.order.pk, r.offset) for r in after] == [(order.pk, "overdue")]


@pytest.mark.django_db
def test_the_staff_digest_groups_orders_with_amounts_and_links_and_the_client_gets_its_own_email(team):
    with time_machine.travel(paris(2026, 11, 1, 9), tick=False):
        first = make_order(salesperson=team["sales"], issued_at=paris(2026, 10, 30))
        make_order(salesperson=team["sales"], issued_at=paris(2026, 10, 30))

    summary = scan_at(paris(2026, 12, 9, 7))  # J-7

    digest = OutboxEmail.objects.get(kind="staff_digest", to="vente@logimed.example")
    assert "2 actions" in digest.subject
    reminders.outbox_render(digest)  # as the sender does before sending
    assert "Faire signer le bon de commande par le client" in digest.body_text
    assert "1\u00a0153,00 €" in digest.body_text  # 2 × (451.50 + 125.00) at stake
    assert reverse("admin:orders_order_change", args=[first.pk]) in digest.body_html
    client_emails = OutboxEmail.objects.filter(kind="client_reminder").order_by("pk")
    assert client_emails.count() == 2
    # Recorded with their subject only: the sender renders the body (and issues the link) just before sending.
    assert [email.body_text for email in client_emails] == ["", ""]
    assert summary.reminders == 4
    with time_machine.travel(paris(2026, 12, 9, 7, 5), tick=False):
        assert reminders.outbox_send_due()["sent"] == 3  # the salesperson's digest, two client reminders
    rendered = OutboxEmail.objects.filter(kind="client_reminder").order_by("pk").first()
    assert "au plus tard le 16/12/2026 à 12 h" in rendered.body_text
    sent = [message for message in mail.outbox if message.to == [rendered.to]]
    assert len(sent) == 2 and all("au plus tard le 16/12/2026 à 12 h" in message.body for message in sent)
    assert all("/espace-client/" in message.body for message in sent)


@pytest.mark.django_db
def test_two_scans_the_same_day_send_each_reminder_once(team):
    with time_machine.travel(paris(2026, 11, 1, 9), tick=False):
        make_order(salesperson=team["sales"], issued_at=paris(2026, 10, 30))

    first = scan_at(paris(2026, 12, 9, 7))
    second = scan_at(paris(2026, 12, 9, 7, 30))
    with time_machine.travel(paris(2026, 12, 9, 8), tick=False):
        reminders.outbox_send_due()
        reminders.outbox_send_due()

    assert not first.skipped and second.skipped
    assert len(mail.outbox) == OutboxEmail.objects.count() == 2  # the salesperson's digest and the client


class BrokenSMTP(BaseEmailBackend):
    def send_messages(self, messages):
        raise ConnectionRefusedError("[Errno 111] Connection refused (smtp.example:587)")


@pytest.mark.django_db
def test_failed_sends_are_kept_and_retried_with_backoff_when_the_mail_server_is_back(team, settings):
    with time_machine.travel(paris(2026, 11, 1, 9), tick=False):
        make_order(salesperson=team["sales"], issued_at=paris(2026, 10, 30))
    scan_at(paris(2026, 12, 9, 7))
    settings.EMAIL_BACKEND = "tests.monitoring.test_reminders.BrokenSMTP"

    with time_machine.travel(paris(2026, 12, 9, 7, 1), tick=False):
        down = reminders.outbox_send_due()
    failed = OutboxEmail.objects.filter(status="failed")
    assert down == {"sent": 0, "failed": 2} and failed.count() == 2
    assert "Connection refused" in failed.first().last_error
    assert failed.first().next_attempt_at == paris(2026, 12, 9, 7, 3)  # 2 minutes after the first failure

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with time_machine.travel(paris(2026, 12, 9, 7, 2), tick=False):
        too_early = reminders.outbox_send_due()
    with time_machine.travel(paris(2026, 12, 9, 7, 4), tick=False):
        back = reminders.outbox_send_due()

    assert too_early == {"sent": 0, "failed": 0}
    assert back == {"sent": 2, "failed": 0}
    assert set(OutboxEmail.objects.values_list("status", "attempts")) == {("sent", 2)}


@pytest.mark.django_db
def test_nothing_is_lost_when_the_broker_is_down_during_the_scan(team, monkeypatch):
    from monitoring import tasks

    def broker_down(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.send_outbox, "delay", broker_down)
    with time_machine.travel(paris(2026, 11, 1, 9), tick=False):
        make_order(salesperson=team["sales"], issued_at=paris(2026, 10, 30))

    with time_machine.travel(paris(2026, 12, 9, 7), tick=False):
        reminders.deadlines_scan()

    assert OutboxEmail.objects.filter(status="pending").count() == 2
    with time_machine.travel(paris(2026, 12, 9, 7, 5), tick=False):
        assert reminders.outbox_send_due() == {"sent": 2, "failed": 0}


# --- Automatic consequences ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_pre_order_past_its_120_days_lapses_and_the_client_is_informed(team):
    solution = make_solution(complete_dossier_submitted_at=None, referenced_at=None)
    with time_machine.travel(paris(2026, 3, 3, 9), tick=False):
        order = make_order(solution=solution, issued_at=paris(2026, 3, 1))
        services.perform(
            "sign", order_id=order.pk, acting_user=None, params={"signed_at": paris(2026, 3, 2)} | SIGNATURE
        )

    assert scan_at(paris(2026, 6, 30, 23)).lapsed == 0  # 02/03 + 120 calendar days = 30/06, the whole day
    summary = scan_at(paris(2026, 7, 1, 0, 5))

    order.refresh_from_db()
    assert summary.lapsed == 1 and order.state == "lapsed"
    assert order.pre_order_expiry_notified_at is not None
    event = OrderEvent.objects.filter(order=order, action="lapse").get()
    assert event.actor_label == "system"
    notice = OutboxEmail.objects.get(kind="lapse_notice")
    assert notice.to == order.client.email and "120 jours" in notice.body_text


@pytest.mark.django_db
def test_pre_order_clients_are_told_when_no_complete_dossier_was_filed_before_date_2(team):
    """AF §II, §4.3: Date 2 caps the 120 days: signed 09/07, the pre-order lapses at Date 2 (22/07 12:00), not on
    06/11, and its client is told why."""
    solution = make_solution(complete_dossier_submitted_at=None, referenced_at=None)
    with time_machine.travel(paris(2026, 7, 10, 9), tick=False):
        order = make_order(solution=solution, issued_at=paris(2026, 7, 8))
        services.perform(
            "sign", order_id=order.pk, acting_user=None, params={"signed_at": paris(2026, 7, 9)} | SIGNATURE
        )

    before = scan_at(paris(2026, 7, 21, 7))  # one scan a day
    summary = scan_at(paris(2026, 7, 22, 12, 1))
    again = scan_at(paris(2026, 7, 24, 7))

    order.refresh_from_db()
    assert (before.lapsed, summary.lapsed, again.lapsed) == (0, 1, 0)
    assert order.state == "lapsed" and "avant la Date 2 (22/07/2026 12:00)" in order.closing_reason
    notice = OutboxEmail.objects.get(kind="lapse_notice")
    assert "avant la Date 2 (22/07/2026 12:00)" in notice.body_text


@pytest.mark.django_db
def test_at_date_5_an_unrealised_order_owes_its_advance_with_client_and_asp_notices(team):
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        order = advance(make_order(), "advance_paid")
    date_5 = lgc_programme().date_5

    summary = scan_at(date_5 + timedelta(hours=19))  # the next morning, 07:00

    order.refresh_from_db()
    assert summary.date_5_declared == 1 and order.state == "reimbursement_due"
    assert OutboxEmail.objects.filter(kind="date_5_notice", to=order.client.email).exists()
    draft = OutboxEmail.objects.get(kind="asp_notice_draft")
    assert draft.to == "compta@logimed.example"
    assert "180,60 €" in draft.body_text


# --- Calendar -----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_calendar_shows_overdue_first_then_the_next_90_days_with_amounts(client, team):
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        installed = advance(make_order(), "installed")  # Date 5 (13/07/2027): beyond 90 days
        make_order(salesperson=team["sales"])
        firm = advance(make_order(), "firm")

    with time_machine.travel(paris(2026, 12, 1, 10), tick=False):
        client.force_login(team["admin"])
        before_date_4 = client.get(reverse("deadline_calendar")).content.decode()
        only_advances = client.get(reverse("deadline_calendar"), {"echeance": "DATE_4_ADVANCE"}).content.decode()
    with time_machine.travel(paris(2026, 12, 17, 10), tick=False):
        client.force_login(team["admin"])
        after_date_4 = client.get(reverse("deadline_calendar")).content.decode()

    assert "16/12/2026 — 2 échéances · 1\u00a0153,00&nbsp;€ en jeu" in before_date_4
    assert installed.number not in before_date_4
    assert firm.number in only_advances and "Faire signer" not in only_advances
    assert "En retard : 2 échéances · 1\u00a0153,00&nbsp;€ en jeu" in after_date_4


@pytest.mark.django_db
def test_the_satisfaction_report_is_due_18_months_after_the_last_va_and_shows_in_the_calendar(client, team):
    from monitoring.selectors import provider_deadlines

    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        solution = make_solution()
        advance(make_order(solution=solution), "va_signed")  # both VAs on 16/10/2026 (factory dates)
        advance(make_order(solution=solution), "va_signed")

    by_code = {deadline.code: (label, deadline) for label, deadline in provider_deadlines(paris(2026, 11, 23, 10))}
    label, deadline = by_code["SATISFACTION_REPORT"]
    provider = solution.provider
    with time_machine.travel(paris(2028, 4, 17, 10), tick=False):
        client.force_login(team["admin"])
        calendar = client.get(reverse("deadline_calendar")).content.decode()

    assert (deadline.code, deadline.actor, deadline.due_at) == (
        "SATISFACTION_REPORT",
        "admin",
        rules.end_of_day_paris(date(2028, 4, 16)),
    )
    assert "bilan agrégé des questionnaires de satisfaction" in calendar and label in calendar
    assert by_code["COMPLETE_DOSSIER"][1].status == "met" and by_code["PILOT_VALIDATION"][1].status == "met"
    provider.satisfaction_report_sent_on = date(2028, 3, 1)
    provider.save()
    statuses = {deadline.code: deadline.status for _label, deadline in provider_deadlines(paris(2026, 11, 23, 10))}
    assert statuses["SATISFACTION_REPORT"] == "met"


@pytest.mark.django_db
def test_solution_deadlines_reach_the_admin_and_deployment_digests(team):
    deployment = make_user("tech", "Déploiement", email="tech@logimed.example")
    make_solution(pilot_validated_at=None)

    scan_at(paris(2027, 9, 29, 7))  # Date 6 (13/10/2027) in 14 days: the pilot is still not validated

    digest = OutboxEmail.objects.get(kind="staff_digest", to=deployment.email)
    reminders.outbox_render(digest)  # as the sender does before sending
    assert "Faire valider par l'ANS le périmètre pilote" in digest.body_text
    assert ReminderDispatch.objects.filter(deadline_code="PILOT_VALIDATION", offset="14", order=None).exists()


@pytest.mark.django_db
def test_clients_are_reminded_to_sign_the_pilot_pv_then_the_va(team):
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        solution = make_solution()
        regular = advance(make_order(solution=solution, salesperson=team["sales"]), "installed")
        pilot = advance(make_order(solution=solution, salesperson=team["sales"], is_pilot=True), "installed")

    scan_at(paris(2027, 6, 29, 7))  # Date 5 (13/07/2027) in 14 days

    # The bodies prepared ahead of sending, by batches: the two client reminders and two staff digests.
    assert reminders.outbox_render_pending() == 4
    va_email = OutboxEmail.objects.get(kind="client_reminder", subject__contains="vérification d'aptitude à signer")
    pv_email = OutboxEmail.objects.get(
        kind="client_reminder", subject__contains="procès-verbal d'installation pilote à signer"
    )
    assert regular.number in va_email.subject and pilot.number in pv_email.subject
    assert "au plus tard le 13/07/2027 à 12 h" in va_email.body_text
    assert "Il vous reste à signer : la vérification d'aptitude." in va_email.body_text  # the client's words
    assert "(VA)" not in va_email.subject and "AF §" not in va_email.body_text


@pytest.mark.django_db
def test_nothing_is_lost_while_the_smtp_server_is_down_and_it_all_leaves_when_it_is_back(team, settings):
    import socket

    from tests.monitoring.fake_smtp import FakeSMTPServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
    with time_machine.travel(paris(2026, 11, 1, 9), tick=False):
        make_order(salesperson=team["sales"], issued_at=paris(2026, 10, 30))
    scan_at(paris(2026, 12, 9, 7))
    server = FakeSMTPServer(port)

    with time_machine.travel(paris(2026, 12, 9, 7, 1), tick=False):
        while_down = reminders.outbox_send_due()  # nothing listens on the port
    errors = set(OutboxEmail.objects.values_list("status", "last_error"))
    server.start()
    try:
        with time_machine.travel(paris(2026, 12, 9, 7, 10), tick=False):
            once_back = reminders.outbox_send_due()
    finally:
        server.stop()

    assert while_down == {"sent": 0, "failed": 2}
    assert all(status == "failed" and "Connection refused" in error for status, error in errors), errors
    assert once_back == {"sent": 2, "failed": 0}
    assert len(server.messages) == 2
    assert any(b"vente@logimed.example" in message for message in server.messages)


@pytest.mark.django_db
def test_a_settled_order_with_an_open_portability_request_keeps_its_deadline():
    from orders.models import Order
    from orders.selectors import with_open_deadlines

    order = make_order()
    Order.objects.filter(pk=order.pk).update(state="closed", portability_requested_at=paris(2028, 1, 10))
    delivered = make_order()
    Order.objects.filter(pk=delivered.pk).update(
        state="closed", portability_requested_at=paris(2028, 1, 10), portability_delivered_at=paris(2028, 1, 12)
    )
    cancelled = make_order()
    Order.objects.filter(pk=cancelled.pk).update(state="cancelled")

    assert list(with_open_deadlines(Order.objects.all())) == [order]


@pytest.mark.django_db
def test_the_scan_makes_as_many_queries_for_30_orders_as_for_3(team):
    from django.db import connection

    def scan_counting_queries(moment):
        statements: list[str] = []

        def count(execute, sql, params, many, context):
            statements.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            summary = scan_at(moment)
        return summary, len(statements)

    with time_machine.travel(paris(2026, 11, 1, 9), tick=False):
        solution = make_solution()
        for _ in range(3):
            make_order(solution=solution, salesperson=team["sales"], issued_at=paris(2026, 10, 30))
    small, few = scan_counting_queries(paris(2026, 12, 9, 7))
    JobRun.objects.all().delete()
    ReminderDispatch.objects.all().delete()
    OutboxEmail.objects.all().delete()
    with time_machine.travel(paris(2026, 11, 1, 9), tick=False):
        for _ in range(27):
            make_order(solution=solution, salesperson=team["sales"], issued_at=paris(2026, 10, 30))
    large, many = scan_counting_queries(paris(2026, 12, 9, 7))

    assert (small.reminders, large.reminders) == (6, 60)  # a digest line and a client e-mail per order
    assert few > 10 and many == few, (few, many)  # bounded by batches of 2 000, not by orders


@pytest.mark.django_db
def test_a_crunch_day_lists_a_bounded_number_of_rows_but_counts_them_all(client, team, monkeypatch):
    from monitoring import views

    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        solution = make_solution()
        orders = [make_order(solution=solution, salesperson=team["sales"]) for _ in range(4)]
    monkeypatch.setattr(views, "CALENDAR_ROWS_PER_DAY", 3)
    with time_machine.travel(paris(2026, 12, 1, 10), tick=False):
        client.force_login(team["admin"])
        page = client.get(reverse("deadline_calendar")).content.decode()
        filtered = client.get(reverse("deadline_calendar"), {"echeance": "DATE_4_SIGNATURE"}).content.decode()

    assert "16/12/2026 — 4 échéances" in page
    assert "<strong>4</strong> × Faire signer le bon de commande par le client" in page
    assert sum(page.count(order.number) for order in orders) == 3
    assert "… et 1 autre échéance ce jour-là" in page
    assert sum(filtered.count(order.number) for order in orders) == 4 and "Tout afficher" not in filtered


@pytest.mark.django_db
def test_the_outbox_page_previews_a_client_reminder_not_rendered_yet_without_issuing_a_link(client, team):
    """SPEC §10: the scan records client reminders with their subject only; the outbox page shows how they will read
    (the personal link masked: none is issued before sending), and the sender renders and sends them once."""
    from portal.models import PortalLink

    with time_machine.travel(paris(2026, 11, 1, 9), tick=False):
        make_order(salesperson=team["sales"], issued_at=paris(2026, 10, 30))
    scan_at(paris(2026, 12, 9, 7))  # J-7
    email = OutboxEmail.objects.get(kind="client_reminder")
    assert email.body_text == "" and PortalLink.objects.count() == 0
    client.force_login(team["admin"])

    page = client.get(reverse("admin:monitoring_outboxemail_change", args=[email.pk])).content.decode()

    assert "au plus tard le 16/12/2026 à 12 h" in page
    assert "…/espace-client/acces/•••" in page and "apercu" not in page
    assert PortalLink.objects.count() == 0  # the preview issued no link
    with time_machine.travel(paris(2026, 12, 9, 7, 5), tick=False):
        reminders.outbox_send_due()
    assert reminders.outbox_render_pending() == 0  # rendered by the sender, once
    assert PortalLink.objects.count() == 1
    sent = [message for message in mail.outbox if message.to == [email.to]]
    assert len(sent) == 1 and "au plus tard le 16/12/2026 à 12 h" in sent[0].body
