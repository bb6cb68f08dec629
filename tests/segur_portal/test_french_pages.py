"""French everywhere (issue 10): every staff page reachable from a role's menu — the admin index, each list it links
to and the first object's page of each, the deadline calendar, a few order pages — shows no internal code and no
English phrase. The visible text (and the ``title``/``aria-label`` attributes) is checked; every hit is printed with
its page and role.
"""

import ast
import gettext
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import translation

from monitoring.reminders import SCAN_JOB, deadlines_scan
from monitoring.views import DEADLINE_CODES
from orders import demo, services
from orders.event_labels import EVENT_LABELS
from orders.models import Order, OrderState

pytestmark = pytest.mark.django_db

ROLES = ["admin", "c.durand", "l.petit", "m.bernard", "s.moreau", "a.roux"]
OUTBOX_KINDS = ["asp_notice_draft", "staff_digest", "client_reminder", "scan_set_aside", "portal_link"]
DEADLINES = [code for code, _label in DEADLINE_CODES]
CODES = sorted(
    {*EVENT_LABELS, *services.ACTIONS, *OrderState.values, "to_complete", *OUTBOX_KINDS, SCAN_JOB, *DEADLINES}
    - {"create", "close"}
)
ENGLISH = [
    "Client Name",
    "Vat",
    "Reference entry",
    "Reference entries",
    "Select",
    "Add",
    "Change",
    "Delete",
    "History",
    "Save",
    "Filter",
    "Show counts",
    "Hide counts",
    "Search",
    "Go",
    "None",
    "True",
    "False",
    "Yes",
    "No",
    "Unknown",
    "Today",
    "Now",
    "results",
    "selected",
    "View site",
    "Log out",
    "Home",
]
FORBIDDEN = [
    # Internal codes: an identifier with an underscore is never French; "create" and "close" as words alone.
    *(re.compile(rf"(?<![\w/.-]){re.escape(code)}(?![\w/.-])") for code in CODES),
    re.compile(r"\b(?:create|sign|close)\b"),
    re.compile(r"SPEC\s*§"),
    re.compile(r"\w\(s\)"),
    *(re.compile(rf"(?<![\w'’-]){re.escape(phrase)}(?![\w'’-])") for phrase in ENGLISH),
    re.compile(r"\{\s*\""),  # raw JSON
    re.compile(r"\b20\d\d-\d\d-\d\d\b"),  # ISO dates
    re.compile(r"\d\.\d\d\s?€"),  # amounts with a decimal point
]


class VisibleText(HTMLParser):
    """The text a person reads: the page's text without scripts and styles, plus the title and aria-label
    attributes (and the value of buttons, which is their text)."""

    HIDDEN = {"script", "style", "template"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        attributes = dict(attrs)
        for name in ("title", "aria-label", "placeholder"):
            if attributes.get(name):
                self.parts.append(attributes[name])
        if tag == "input" and attributes.get("type") in {"submit", "button"} and attributes.get("value"):
            self.parts.append(attributes["value"])

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN and self.hidden:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    return parser.parts


def admin_links(html: str) -> set[str]:
    """The admin lists the page's menu links to (``/admin/<app>/<model>/``)."""
    return set(re.findall(r'href="(/admin/\w+/\w+/)"', html))


def first_object_link(html: str, list_url: str) -> str | None:
    match = re.search(rf'href="({re.escape(list_url)}[^/"?]+/change/)[^"]*"', html)
    return match[1] if match else None


# Left as is: django-axes' login record names itself in English ("Access Log for admin @ <ISO date>"), on the
# administrator's pages only; its model is the library's.
THIRD_PARTY = re.compile(r"Access Log for ")


def hits_on(html: str) -> list[str]:
    hits = []
    for part in visible_text(html):
        if THIRD_PARTY.search(part):
            continue
        for pattern in FORBIDDEN:
            for match in pattern.finditer(part):
                hits.append(f"{match[0]!r} in {part[:160]!r}")
    return hits


@pytest.fixture
def seeded() -> list[Order]:
    demo.seed_demo()
    deadlines_scan()  # a run of the daily job and its e-mails in the outbox
    orders = list(Order.objects.order_by("pk"))
    states = {}
    for order in orders:  # one order per state: the order page differs by state
        states.setdefault(order.state, order)
    return list(states.values())


def test_no_english_word_nor_internal_code_on_staff_pages(seeded: list[Order]) -> None:
    findings: list[str] = []
    pages = 0
    for role in ROLES:
        browser = Client()
        browser.force_login(get_user_model().objects.get(username=role))
        index = browser.get(reverse("admin:index"))
        assert index.status_code == 200, role
        urls = [reverse("admin:index"), reverse("deadline_calendar")]
        for list_url in sorted(admin_links(index.content.decode())):
            urls.append(list_url)
            listing = browser.get(list_url)
            if listing.status_code == 200 and (change := first_object_link(listing.content.decode(), list_url)):
                urls.append(change)
        urls += [reverse("admin:orders_order_change", args=[order.pk]) for order in seeded]
        for url in dict.fromkeys(urls):
            response = browser.get(url)
            if response.status_code != 200:
                continue
            pages += 1
            findings += [f"{role} {url}: {hit}" for hit in hits_on(response.content.decode())]
    assert pages > 50
    assert not findings, f"{len(findings)} English words or internal codes on staff pages:\n" + "\n".join(findings)


@pytest.mark.parametrize(
    ("html", "found"),
    [
        ("<td>file_advance</td>", True),
        ("<td>Demande d'avance déposée</td>", False),
        ('<a title="Show counts">x</a>', True),
        ("<p>3 commande(s)</p>", True),
        ("<p>580.50 €</p>", True),
        ("<p>580,50 €</p>", False),
        ("<p>2026-03-01</p>", True),
        ("<p>01/03/2026</p>", False),
        ('<p>{"orders": 3}</p>', True),
        ('<script>var x = {"a": "file_advance"}</script>', False),
        ('<a href="/admin/orders/order/?state=pre_order">Commandes</a>', False),
        ("<p>Sélectionner</p>", False),
    ],
)
def test_the_checker_sees_codes_and_english_in_text_only(html: str, found: bool) -> None:
    assert bool(hits_on(html)) is found


# --- The English catalogue: French is the source (the msgids), English the translation ----------------------------

PO_FILE = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES" / "django.po"


def po_entries() -> dict[str, list[str]]:
    """msgid (singular, with its context) → its translations, read from the .po (entries left empty are absent)."""
    entries: dict[str, list[str]] = {}
    for block in PO_FILE.read_text(encoding="utf-8").split("\n\n"):
        parts: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if match := re.match(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d\])?) (\".*\")$", line):
                key = match[1]
                parts[key] = ast.literal_eval(match[2])
            elif line.startswith('"') and key:
                parts[key] += ast.literal_eval(line)
        translations = [value for name, value in sorted(parts.items()) if name.startswith("msgstr")]
        if parts.get("msgid") and any(translations):
            # a msgid with a context ({% translate "versée" context "avance" %}) is keyed "context\x04msgid" in the .mo
            key = f"{parts['msgctxt']}\x04{parts['msgid']}" if "msgctxt" in parts else parts["msgid"]
            entries[key] = translations
    return entries


def test_the_compiled_catalogue_matches_the_po_file() -> None:
    """The .mo is committed (no gettext needed to install or run): it must say what the .po says."""
    with PO_FILE.with_suffix(".mo").open("rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)
    entries = po_entries()
    assert len(entries) > 100
    for msgid, translations in entries.items():
        assert catalogue.gettext(msgid) == translations[0] or catalogue.ngettext(msgid, "", 1) == translations[0], msgid
        if len(translations) > 1:
            assert catalogue.ngettext(msgid, "", 2) == translations[1], msgid


def test_staff_strings_come_out_in_english_for_en_and_stay_french_by_default() -> None:
    with translation.override("en"):
        assert translation.gettext("Aucune commande") == "No order"
        assert translation.ngettext("%(count)s commande", "%(count)s commandes", 3) % {"count": 3} == "3 orders"
        assert str(OrderState.DRAFT.label) == "Brouillon"  # states stay French: documents and e-mails quote them
    with translation.override("fr"):
        assert translation.gettext("Aucune commande") == "Aucune commande"
        assert translation.ngettext("%(count)s commande", "%(count)s commandes", 1) % {"count": 1} == "1 commande"


def test_an_english_browser_gets_the_english_staff_list_and_the_french_client_space(seeded: list[Order]) -> None:
    browser = Client()
    browser.force_login(get_user_model().objects.get(username="a.roux"))
    french = browser.get(reverse("admin:orders_order_changelist")).content.decode()
    english = browser.get(reverse("admin:orders_order_changelist"), HTTP_ACCEPT_LANGUAGE="en-US,en").content.decode()
    assert "Totaux de la liste filtrée" in french and "Totals of the filtered list" not in french
    assert "Totals of the filtered list" in english
    portal = Client().get(reverse("portal:request_link"), HTTP_ACCEPT_LANGUAGE="en-US,en")
    assert portal["Content-Language"] == "fr"


def test_an_english_browser_gets_the_order_page_actions_and_the_calendar_in_english(seeded: list[Order]) -> None:
    """The order page's primary action area and the calendar heading follow the staff language; French by default."""
    browser = Client()
    browser.force_login(get_user_model().objects.get(username="admin"))
    draft = next(order for order in seeded if order.state == OrderState.DRAFT)
    page = reverse("admin:orders_order_change", args=[draft.pk])
    french = browser.get(page).content.decode()
    english = browser.get(page, HTTP_ACCEPT_LANGUAGE="en-US,en").content.decode()
    assert "Prochaine étape" in french and "Enregistrer la signature du client" in french
    assert "Journal de la commande" in french and "Next step" not in french
    assert "Next step" in english and "Record the client&#x27;s signature" in english and "Order log" in english
    assert "Prochaine étape" not in english and "Enregistrer la signature du client" not in english
    french = browser.get(reverse("deadline_calendar")).content.decode()
    english = browser.get(reverse("deadline_calendar"), HTTP_ACCEPT_LANGUAGE="en-US,en").content.decode()
    assert "Calendrier des échéances (90 jours)" in french and "Toutes les échéances" in french
    assert "Deadline calendar (90 days)" in english and "All deadlines" in english
    assert "Calendrier des échéances (90 jours)" not in english and "Toutes les échéances" not in english


def test_rule_messages_and_event_labels_stay_french_in_the_store_whatever_the_staff_language() -> None:
    """Action labels are lazy (buttons follow the language) but a refusal quotes them in French (AF messages)."""
    with translation.override("en"):
        assert str(services.ACTIONS["sign"].label) == "Record the client's signature"
        assert services.french(services.ACTIONS["sign"].label) == "Enregistrer la signature du client"
        assert str(EVENT_LABELS["sign"]) == "Client signature recorded"
    with translation.override("fr"):
        assert str(services.ACTIONS["sign"].label) == "Enregistrer la signature du client"
        assert str(EVENT_LABELS["sign"]) == "Signature du client enregistrée"
