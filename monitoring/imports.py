"""Bulk import of monthly monitoring figures (CSV or XLSX, read with django-import-export's formats) (AF §4.5).

One file holds many orders' months, keyed by order number, RPPS or FINESS. Every line is checked by the same
``record_months_bulk`` as manual entry and the API; the import is all-or-nothing and each error names its line and
column. ``import_file(..., dry_run=True)`` is the preview; the same call without ``dry_run`` confirms.
"""

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from import_export.formats.base_formats import XLSX

from monitoring.models import RevisionSource
from monitoring.services import MonthReport, record_months_bulk
from orders.models import Order

MAX_BYTES = 10 * 1024 * 1024  # 10 Mo: about 200 000 lines of figures
MAX_BYTES_LABEL = "10 Mo"
KEY_COLUMNS = {"commande": "number", "rpps": "client__rpps", "finess": "client__finess"}
FIGURE_COLUMNS = {"dt": "Dt", "dm": "Dm", "t": "T", "tq": "Tq", "ts": "Ts"}
REQUIRED = ["mois", *FIGURE_COLUMNS]
OPTIONAL = ["motif"]
EXPECTED_HEADER = "commande (ou rpps ou finess) ; mois ; Dt ; Dm ; T ; Tq ; Ts ; motif (facultatif)"
IMPORT_TEMPLATE_HEADER = "commande;mois;Dt;Dm;T;Tq;Ts;motif"
# A violation's field → the column it is about.
FIELD_COLUMNS = {"month": "mois", "reason": "motif", "Dt": "Dt", "Dm": "Dm", "T": "T", "Tq": "Tq", "Ts": "Ts"}
MONTH_PATTERNS = [
    re.compile(r"^(?P<month>\d{1,2})/(?P<year>\d{4})$"),
    re.compile(r"^(?P<year>\d{4})-(?P<month>\d{1,2})(-01)?$"),
    re.compile(r"^0?1/(?P<month>\d{1,2})/(?P<year>\d{4})$"),
]
INTEGER = re.compile(r"^-?\d+$")


@dataclass(frozen=True)
class ImportProblem:
    line: int  # 1 = the header, 0 = the whole file
    column: str
    message: str

    def __str__(self) -> str:
        if not self.line:  # about the whole file
            return f"Fichier : {self.message}"
        if self.column:
            return f"Ligne {self.line}, colonne « {self.column} » : {self.message}"
        return f"Ligne {self.line} : {self.message}"


@dataclass
class ImportReport:
    errors: list[ImportProblem] = field(default_factory=list)
    rows: int = 0
    orders: int = 0
    new_months: int = 0
    corrections: int = 0
    unchanged: int = 0
    written: bool = False


def _table(content: bytes, filename: str) -> tuple[list[Any], list[list[Any]]]:
    """(headers, rows): XLSX through django-import-export's format, CSV (``;`` or ``,``) through ``csv``."""
    if filename.lower().endswith(".xlsx"):
        dataset = XLSX().create_dataset(content)
        return list(dataset.headers or []), [list(row) for row in dataset]
    text = content.decode("utf-8-sig")
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") >= first_line.count(",") else ","
    rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter)]
    return (rows[0] if rows else []), [row for row in rows[1:] if any(cell.strip() for cell in row)]


def parse_month(value: Any) -> date | None:
    if type(value) is str and len(value) == 7 and value[2] == "/" and value[:2].isdigit() and value[3:].isdigit():
        month = int(value[:2])
        return date(int(value[3:]), month, 1) if 1 <= month <= 12 else None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value if value.day == 1 else None
    text = str(value or "").strip()
    for pattern in MONTH_PATTERNS:
        match = pattern.match(text)
        if match:
            month, year = int(match["month"]), int(match["year"])
            return date(year, month, 1) if 1 <= month <= 12 else None
    return None


def parse_integer(value: Any) -> int | None:
    if type(value) is str and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value if value is not None else "").strip().replace("\u202f", "").replace(" ", "")
    return int(text) if INTEGER.match(text) else None


def import_file(
    content: bytes, filename: str, *, user: Any = None, reason: str = "", dry_run: bool = False
) -> ImportReport:
    """Check (``dry_run``: preview) or import a file of monthly figures, all-or-nothing (AF §4.5, SPEC §9)."""
    report = ImportReport()
    if len(content) > MAX_BYTES:
        report.errors.append(ImportProblem(0, "", f"il dépasse {MAX_BYTES_LABEL} : découpez-le."))
        return report
    if not filename.lower().endswith((".csv", ".xlsx")):
        report.errors.append(ImportProblem(0, "", "il doit être au format CSV ou XLSX."))
        return report
    if not content.strip():
        report.errors.append(ImportProblem(1, "", "le fichier est vide."))
        return report
    try:
        raw_headers, dataset = _table(content, filename)
    except Exception:  # any parser error (bad encoding, not a spreadsheet) means an unreadable file
        report.errors.append(ImportProblem(1, "", "fichier illisible : enregistrez-le en CSV (UTF-8) ou en XLSX."))
        return report
    headers = [str(header or "").strip() for header in raw_headers]
    lowered = [header.lower() for header in headers]
    keys = [name for name in KEY_COLUMNS if name in lowered]
    unknown = [header for header in headers if header.lower() not in {*KEY_COLUMNS, *REQUIRED, *OPTIONAL}]
    missing = [name for name in REQUIRED if name not in lowered]
    if len(keys) != 1 or unknown or missing:
        problems = []
        if len(keys) != 1:
            problems.append("une et une seule colonne « commande », « rpps » ou « finess »")
        if missing:
            problems.append("colonnes manquantes : " + ", ".join(FIGURE_COLUMNS.get(m, m) for m in missing))
        if unknown:
            problems.append("colonnes inconnues : " + ", ".join(unknown))
        report.errors.append(
            ImportProblem(1, "", f"en-tête incorrect ({' ; '.join(problems)}). Attendu : {EXPECTED_HEADER}.")
        )
        return report
    key = keys[0]
    position = {name: lowered.index(name) for name in [key, *REQUIRED, *OPTIONAL] if name in lowered}
    key_header = headers[position[key]]
    if not len(dataset):
        report.errors.append(ImportProblem(1, "", "le fichier ne contient aucune ligne de chiffres."))
        return report
    report.rows = len(dataset)
    parsed: list[tuple[int, str, MonthReport]] = []
    for index, row in enumerate(dataset):
        line = index + 2
        if len(row) < len(headers):
            row = [*row, *[""] * (len(headers) - len(row))]
        key_value = str(row[position[key]] or "").strip()
        if isinstance(row[position[key]], float) and row[position[key]].is_integer():
            key_value = str(int(row[position[key]]))
        if not key_value:
            report.errors.append(ImportProblem(line, key_header, "valeur manquante."))
            continue
        month = parse_month(row[position["mois"]])
        if month is None:
            report.errors.append(
                ImportProblem(line, headers[position["mois"]], "indiquez le mois au format MM/AAAA (ex. 03/2027).")
            )
            continue
        figures = []
        for name, label in FIGURE_COLUMNS.items():
            value = parse_integer(row[position[name]])
            if value is None:
                report.errors.append(
                    ImportProblem(line, label, f"« {row[position[name]]} » n'est pas un nombre entier (AF §3.3).")
                )
            figures.append(value)
        if any(value is None for value in figures):
            continue
        reason_text = str(row[position["motif"]] or "").strip() if "motif" in position else ""
        parsed.append((line, key_value, MonthReport(month, *figures, reason=reason_text)))  # type: ignore[arg-type]
    orders = {
        str(getattr_path(order, KEY_COLUMNS[key])): order
        for order in Order.objects.select_related("programme", "client").filter(
            **{f"{KEY_COLUMNS[key]}__in": {key_value for _line, key_value, _report in parsed}}
        )
    }
    per_order: dict[int, list[MonthReport]] = defaultdict(list)
    lines: dict[int, int] = {}
    for line, key_value, month_report in parsed:
        order = orders.get(key_value)
        if order is None:
            report.errors.append(ImportProblem(line, key_header, f"« {key_value} » : aucune commande ne correspond."))
            continue
        per_order[order.pk].append(month_report)
        lines[id(month_report)] = line
    by_pk = {order.pk: order for order in orders.values()}
    entries = [(by_pk[pk], reports) for pk, reports in per_order.items()]
    report.orders = len(entries)
    results = record_months_bulk(
        entries,
        source=RevisionSource.IMPORT,
        user=user,
        reason=reason or f"Import du fichier {filename}",
        all_or_nothing=True,
        dry_run=dry_run or bool(report.errors),
        return_months=False,
    )
    for result in results:
        for month_report, violations in result.rejected:
            for violation in violations:
                column = key_header if violation.field == "order" else FIELD_COLUMNS.get(violation.field, "")
                report.errors.append(ImportProblem(lines[id(month_report)], column, violation.message))
        report.corrections += len(result.corrected)
        report.new_months += result.written - len(result.corrected)
        report.unchanged += len(result.unchanged)
    report.errors.sort(key=lambda error: (error.line, error.column))
    report.written = not dry_run and not report.errors and (report.new_months + report.corrections) > 0
    return report


def getattr_path(obj: Any, path: str) -> Any:
    for part in path.split("__"):
        obj = getattr(obj, part)
    return obj
