"""The order list's reads: the SQL deadline-window filter agrees with ``rules.next_deadline`` everywhere."""

from datetime import datetime, timedelta

import pytest

from orders import rules
from orders.models import Order, Programme
from orders.selectors import DEADLINE_WINDOWS, order_list_queryset, orders_in_deadline_window
from tests.factories import lgc_programme, make_order, make_solution, paris

pytestmark = pytest.mark.django_db

SECOND = timedelta(seconds=1)


def python_windows(order: Order, now: datetime) -> set[str]:
    """The windows an order's next deadline falls in, straight from the rules (what the list column shows)."""
    deadline = rules.next_deadline(order, now)
    if deadline is None:
        return set()
    if deadline.status == rules.OVERDUE:
        return {"overdue"}
    return {
        window
        for window, (_label, days) in DEADLINE_WINDOWS.items()
        if days is not None and deadline.due_at <= now + timedelta(days=days)
    }


def other_programme() -> Programme:
    """A second couloir with its own calendar and delays: the filter must read each programme's own parameters."""
    return Programme.objects.create(
        code="TEST-DPI",
        name="Programme de test",
        couloir="DPI",
        date_1=paris(2025, 11, 3),
        date_2=paris(2026, 9, 30),
        date_3=paris(2026, 11, 30),
        date_4=paris(2027, 2, 26),
        date_5=paris(2027, 10, 29),
        date_6=paris(2028, 1, 31),
        pre_order_window_days=90,
        secondary_observation_months=12,
        secondary_request_months=14,
        termination_notice_months=6,
        portability_days=30,
        ans_check_months=3,
    )


def scenarios() -> list[tuple[str, dict]]:
    """(state, facts) covering every deadline of ``rules.order_deadlines``, met and unmet, and the final states."""
    return [
        ("draft", {}),
        ("pre_order", {"signed_at": paris(2026, 3, 1, 10)}),
        ("pre_order", {"signed_at": paris(2026, 3, 1, 23, 30)}),  # late evening: the Paris day, not the UTC one
        ("pre_order", {"signed_at": paris(2026, 6, 10, 9), "pre_order_expiry_notified_at": paris(2026, 10, 9)}),
        ("pre_order", {"signed_at": paris(2026, 4, 2, 9), "date_2_notice_sent_at": paris(2026, 7, 20)}),
        ("pre_order", {"signed_at": paris(2026, 11, 30, 9)}),
        ("firm", {"signed_at": paris(2026, 6, 1)}),
        ("advance_requested", {"advance_requested_at": paris(2026, 11, 2)}),
        ("advance_paid", {"advance_paid_at": paris(2026, 11, 20)}),
        ("installed", {"installed_at": paris(2027, 1, 15)}),
        ("installed", {"installed_at": paris(2027, 7, 13, 12, 0, 1)}),  # realised after Date 5
        ("installed", {"installed_at": paris(2027, 1, 15), "completion_attested_at": paris(2027, 2, 1)}),
        ("pilot_pv_signed", {"installed_at": paris(2027, 1, 15), "pilot_pv_signed_at": paris(2027, 1, 20)}),
        ("va_signed", {"installed_at": paris(2027, 1, 15), "va_signed_at": paris(2027, 1, 31, 23, 30)}),
        (
            "va_signed",
            {
                "installed_at": paris(2027, 1, 15),
                "va_signed_at": paris(2027, 2, 10),
                "completion_attested_at": paris(2027, 3, 1),
            },
        ),
        ("balance_requested", {"installed_at": paris(2027, 1, 15), "va_signed_at": paris(2027, 3, 31, 18)}),
        ("balance_paid", {"installed_at": paris(2027, 1, 15), "va_signed_at": paris(2027, 5, 5)}),
        (
            "balance_paid",
            {
                "va_signed_at": paris(2027, 5, 5),
                "portability_requested_at": paris(2027, 8, 30, 22),
                "portability_delivered_at": paris(2027, 9, 2),
            },
        ),
        ("closed", {"va_signed_at": paris(2027, 5, 5), "portability_requested_at": paris(2028, 2, 25, 15)}),
        ("terminated", {"va_signed_at": paris(2027, 2, 10), "terminated_at": paris(2027, 8, 31, 20)}),
        (
            "terminated",
            {
                "va_signed_at": paris(2027, 2, 10),
                "terminated_at": paris(2027, 2, 28),
                "termination_notified_at": paris(2027, 3, 5),
            },
        ),
        ("secondary_requested", {"va_signed_at": paris(2027, 1, 10), "journal_received_at": paris(2028, 1, 31, 23)}),
        ("secondary_paid", {"va_signed_at": paris(2027, 1, 10), "journal_received_at": paris(2028, 2, 29, 9)}),
        ("lapsed", {"signed_at": paris(2026, 3, 1)}),
        ("cancelled", {}),
        ("reimbursement_due", {"installed_at": None}),
        ("reimbursed", {}),
    ]


@pytest.fixture
def population() -> list[Order]:
    """Every scenario for three solutions (no dossier, a dossier in time for some pre-orders, a late one), in two
    programmes. Built by the services, then moved to each state and date with ``update``: these are reads only."""
    lgc, dpi = lgc_programme(), other_programme()
    solutions = [
        make_solution(complete_dossier_submitted_at=None, referenced_at=None),
        make_solution(),  # complete dossier 02/03/2026 12:00
        make_solution(complete_dossier_submitted_at=paris(2026, 8, 9, 12, 0, 1), referenced_at=None),
    ]
    ids = []
    for programme in (lgc, dpi):
        for state, facts in scenarios():
            # The complete dossier only matters to pre-orders: those get each solution, the others one.
            for solution in solutions if state == "pre_order" else solutions[1:2]:
                order = make_order(solution=solution)
                Order.objects.filter(pk=order.pk).update(programme=programme, state=state, **facts)
                ids.append(order.pk)
    return list(order_list_queryset().filter(pk__in=ids))


def boundary_instants(orders: list[Order]) -> list[datetime]:
    """Each deadline's due instant, shifted by each window, to the second before, the instant itself and after."""
    probe = paris(2026, 1, 5, 9)
    dues = set()
    for order in orders:
        for moment in (probe, paris(2027, 6, 1), paris(2028, 6, 1)):
            dues.update(deadline.due_at for deadline in rules.order_deadlines(order, moment))
    instants = {probe, paris(2026, 10, 25, 2, 30), paris(2027, 3, 28, 3, 30)}  # and the DST changes
    for due in dues:
        for days in (0, 7, 30, 90):
            shifted = due - timedelta(days=days)
            instants.update({shifted - SECOND, shifted, shifted + SECOND})
    return sorted(instants)


def test_the_deadline_window_filter_agrees_with_the_rules_for_every_state_and_boundary(population):
    mismatches = []
    instants = boundary_instants(population)
    assert len(instants) > 200

    for now in instants:
        windows_of = {order.number: python_windows(order, now) for order in population}
        for window in DEADLINE_WINDOWS:
            expected = {number for number, windows in windows_of.items() if window in windows}
            found = set(orders_in_deadline_window(Order.objects.all(), window, now).values_list("number", flat=True))
            if found != expected:
                mismatches.append((now.isoformat(), window, sorted(expected - found), sorted(found - expected)))

    assert mismatches == []


def test_every_state_with_a_deadline_is_exercised(population):
    """The agreement above is not vacuous: each deadline kind is some order's next deadline at some instant.

    (Except the secondary request: always two months after the observation deadline, which is never "met", it is
    never the next one; the filter still carries it, like ``rules.order_deadlines``.)
    """
    codes = set()
    for now in boundary_instants(population):
        for order in population:
            deadline = rules.next_deadline(order, now)
            if deadline is not None:
                codes.add(deadline.code)

    assert codes == {
        "DATE_4_SIGNATURE",
        "PRE_ORDER_120_DAYS",
        "DATE_2_NOTICE",
        "DATE_4_ADVANCE",
        "DATE_5_REALISATION",
        "DATE_5_ATTESTATION",
        "DATE_6_BALANCE",
        "SECONDARY_OBSERVATION",
        "SECONDARY_REQUEST",
        "TERMINATION_NOTICE",
        "PORTABILITY",
        "ANS_CHECK_WINDOW",
    }


def test_a_programme_date_moved_by_an_administrator_moves_the_filter_at_once():
    order = make_order()
    now = paris(2026, 12, 10, 9)
    assert list(orders_in_deadline_window(Order.objects.all(), "7", now)) == [order]  # Date 4 on 16/12

    Programme.objects.filter(pk=order.programme_id).update(date_4=paris(2026, 12, 31))

    assert list(orders_in_deadline_window(Order.objects.all(), "7", now)) == []
    assert list(orders_in_deadline_window(Order.objects.all(), "30", now)) == [order]


def test_the_filter_costs_three_queries_whatever_the_number_of_orders(django_assert_num_queries):
    solution = make_solution()
    for _ in range(5):
        make_order(solution=solution)
    now = paris(2026, 12, 10, 9)

    with django_assert_num_queries(3):  # the solutions' dossier dates, the programmes, the orders
        assert len(orders_in_deadline_window(order_list_queryset(), "30", now)) == 5


def test_the_list_queryset_loads_what_a_row_shows_in_one_query(django_assert_num_queries):
    make_order()

    with django_assert_num_queries(1):
        order = order_list_queryset().get()
        shown = (order.client.name, order.programme.date_4, order.solution.provider.name, order.salesperson)

    assert shown[0].startswith("Dr ")
