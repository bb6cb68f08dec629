"""Spreadsheet files in and out: safe cells for every export, and the reading of uploaded CSV / XLSX files.

Exports: a cell a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return, also after
leading spaces) is prefixed with ``'`` (OWASP, "CSV injection"), in CSV and XLSX alike, by ``safe_cell``.

Imports: French Excel writes CSV files in Windows-1252 with ``;``; others write UTF-8 (with or without BOM) with
``,`` or tabs. ``open_csv`` detects both and streams the rows; ``open_xlsx`` streams an XLSX sheet (openpyxl
read-only). Neither keeps the file in memory.
"""

import codecs
import csv
import io
import re
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import IO, Any
from zoneinfo import ZoneInfo

import tablib
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from import_export import widgets
from import_export.formats import base_formats
from import_export.forms import SelectableFieldsExportForm
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")  # a number is data, not a formula: "-12,50" stays as it is
CSV_DELIMITERS = ";,\t"
SNIFF_BYTES = 64 * 1024
READ_CHUNK = 1024 * 1024
WHOLE_NUMBER = re.compile(r"^\+?(\d+)(?:[.,]0+)?$")
INTEGER_STORAGE_MAX = 2_147_483_647  # the largest whole number the database stores (PositiveIntegerField)


class UnreadableFile(ValueError):
    """The file cannot be read as a table; the message says why, in French, without any server detail."""


def safe_cell(value: Any) -> Any:
    """The value as a spreadsheet must show it: text that would start a formula gets a leading ``'``.

    Control characters XLSX cannot hold are dropped; numbers, dates and plain numeric text are left as they are.
    """
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if value.startswith(("\t", "\r")) or (
        value.lstrip(" ").startswith(FORMULA_TRIGGERS) and not PLAIN_NUMBER.match(value.strip())
    ):
        return "'" + value
    return value


def unescaped_cell(value: Any) -> Any:
    """Undo ``safe_cell`` on a re-imported export: ``'=SOMME`` is read back as the ``=SOMME`` it was."""
    if isinstance(value, str) and value.startswith("'") and safe_cell(value[1:]) == value:
        return value[1:]
    return value


def safe_row(values: list[Any]) -> list[Any]:
    return [safe_cell(value) for value in values]


class SafeCSVWriter:
    """A ``csv.writer`` whose every cell goes through ``safe_cell`` (for the CSV files we build by hand)."""

    def __init__(self, buffer: IO[str], **options: Any) -> None:
        self.writer = csv.writer(buffer, **options)

    def writerow(self, values: list[Any]) -> Any:
        return self.writer.writerow(safe_row(values))


def whole_number(value: Any) -> int:
    """A count from a cell: ``12``, ``12,0``, ``1 234`` or an integral XLSX number; ``ValueError`` (French) otherwise.

    Never truncates: ``2,5`` is refused, not read as 2; ``inf``, ``1e400`` and ``NaN`` are refused too.
    """
    if isinstance(value, bool):
        raise ValueError(_("« %(value)s » : nombre entier attendu.") % {"value": value})
    if isinstance(value, int):
        number = value
    elif isinstance(value, float | Decimal):
        if not (value == value and abs(value) != float("inf") and value == int(value)):
            raise ValueError(_("« %(value)s » : nombre entier attendu.") % {"value": value})
        number = int(value)
    else:
        text = re.sub(r"[\s\u202f\xa0]", "", str(value))
        match = WHOLE_NUMBER.match(text)
        if match is None:
            raise ValueError(_("« %(value)s » : nombre entier positif ou nul attendu.") % {"value": str(value)[:40]})
        number = int(match.group(1)[:20])
    if number < 0:
        raise ValueError(_("« %(value)s » : nombre entier positif ou nul attendu.") % {"value": value})
    if number > INTEGER_STORAGE_MAX:
        raise ValueError(_("« %(value)s » : nombre trop grand.") % {"value": str(value)[:40]})
    return number


def max_import_bytes() -> int:
    return int(settings.SEGUR_IMPORT_MAX_BYTES)


def size_violation(size: int) -> str:
    """The French refusal of a file over the limit, or ``""``."""
    limit = max_import_bytes()
    if size <= limit:
        return ""
    message = _("Fichier trop volumineux (%(size)s Mo) : %(limit)s Mo au plus. Découpez-le en plusieurs fichiers.")
    return message % {
        "size": f"{size / 1_000_000:.1f}".replace(".", ","),
        "limit": f"{limit / 1_000_000:.0f}",
    }


def detect_encoding(binary: IO[bytes]) -> str:
    """UTF-8 (with or without BOM) when every byte decodes, else Windows-1252; read in chunks, then rewound."""
    binary.seek(0)
    start = binary.read(len(codecs.BOM_UTF8))
    decoder = codecs.getincrementaldecoder("utf-8")()
    encoding = "utf-8-sig" if start == codecs.BOM_UTF8 else "utf-8"
    try:
        decoder.decode(b"" if encoding == "utf-8-sig" else start)
        while chunk := binary.read(READ_CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        encoding = "cp1252"
    binary.seek(0)
    return encoding


def sniff_delimiter(sample: str) -> str:
    """``;``, ``,`` or tab, as csv.Sniffer finds it on the first lines; the header's most frequent one otherwise."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=CSV_DELIMITERS).delimiter
    except csv.Error:
        header = sample.splitlines()[0] if sample else ""
        return max(CSV_DELIMITERS, key=header.count)


def open_csv(binary: IO[bytes]) -> tuple[list[str], Iterator[list[str]]]:
    """The header and a row iterator over a CSV upload, whatever its encoding and delimiter; streamed.

    The iterator reads ``binary`` through a text wrapper, which closes it once the rows are read.
    """
    encoding = detect_encoding(binary)
    text = io.TextIOWrapper(binary, encoding=encoding, errors="strict", newline="")
    try:
        sample = text.read(SNIFF_BYTES)
    except UnicodeDecodeError as error:
        raise UnreadableFile(_("Fichier illisible : encodage inconnu, enregistrez-le en CSV UTF-8.")) from error
    if "\x00" in sample:  # a binary file, or text a tool broke: the database could not store it anyway
        line = sample[: sample.index("\x00")].count("\n") + 1
        raise UnreadableFile(
            _("Fichier illisible : caractère nul à la ligne %(line)s, enregistrez-le à nouveau depuis votre tableur.")
            % {"line": line}
        )
    delimiter = sniff_delimiter(sample)
    text.seek(0)
    reader = csv.reader(_decoded_lines(text), delimiter=delimiter)
    try:
        headers = next(reader)
    except StopIteration:
        raise UnreadableFile(_("Fichier vide : la première ligne doit porter les noms des colonnes.")) from None
    return headers, _rows(reader)


def _decoded_lines(text: io.TextIOWrapper) -> Iterator[str]:
    try:
        yield from text
    except UnicodeDecodeError as error:
        raise UnreadableFile(_("Fichier illisible : encodage inconnu, enregistrez-le en CSV UTF-8.")) from error


def _rows(reader: Any) -> Iterator[list[str]]:
    try:
        yield from reader
    except csv.Error as error:
        raise UnreadableFile(
            _("Fichier illisible : CSV mal formé à la ligne %(line)s.") % {"line": reader.line_num}
        ) from error


def open_xlsx(binary: IO[bytes]) -> tuple[list[str], Iterator[list[Any]]]:
    """The header and a row iterator over the first sheet of an XLSX file (openpyxl read-only: streamed)."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(binary, read_only=True, data_only=True)
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        headers = next(rows, None)
    except Exception as error:  # zipfile, XML or openpyxl errors: the person needs one answer
        raise UnreadableFile(
            _("Fichier illisible : ce n'est pas un XLSX valide, enregistrez-le à nouveau depuis votre tableur.")
        ) from error
    if headers is None:
        raise UnreadableFile(_("Fichier vide : la première ligne doit porter les noms des colonnes."))
    return [str(cell or "") for cell in headers], (list(row) for row in rows)


def open_table(binary: IO[bytes], filename: str) -> tuple[list[str], Iterator[list[Any]]]:
    """CSV or XLSX by the file's extension (a ``.xlsx`` is a zip, anything else is read as CSV)."""
    if filename.lower().endswith(".xlsx"):
        return open_xlsx(binary)
    return open_csv(binary)


class FrenchCSV(base_formats.CSV):
    """The CSV import format of the admin: Windows-1252 or UTF-8, ``;``, ``,`` or tab, found by looking at the file."""

    def get_read_mode(self) -> str:
        return "rb"

    def is_binary(self) -> bool:
        return True  # we decode ourselves: django-import-export would force UTF-8

    def create_dataset(self, in_stream: Any, **kwargs: Any) -> tablib.Dataset:
        raw = in_stream if isinstance(in_stream, bytes) else str(in_stream).encode("utf-8")
        headers, rows = open_csv(io.BytesIO(raw))
        dataset = tablib.Dataset(headers=[header.strip() for header in headers])
        width = len(headers)
        for line, row in enumerate(rows, start=2):
            if not any(cell.strip() for cell in row):
                continue  # blank lines Excel leaves at the end
            if any(cell.strip() for cell in row[width:]):
                raise UnreadableFile(
                    _("Ligne %(line)s : %(count)s colonnes au lieu de %(width)s : vérifiez le séparateur.")
                    % {"line": line, "count": len(row), "width": width}
                )
            dataset.append((row + [""] * width)[:width])
        return dataset


# --- Exports French Excel opens in columns -------------------------------------------------------------------------

BOM = "\ufeff"  # tells Excel the file is UTF-8 (accents), and with ``;`` it splits the columns by itself
EXPORT_DELIMITER = ";"
PARIS_DATETIME_FORMAT = "%d/%m/%Y %H:%M"


def french_decimal(value: Decimal | int | float | None) -> str:
    """An amount as French Excel reads a number: ``3160,50`` (two decimals, comma, no thousands separator)."""
    if value is None:
        return ""
    return f"{Decimal(value):.2f}".replace(".", ",")


def paris_datetime_text(value: datetime | None) -> str:
    """A moment as people read it here: ``16/12/2026 12:00``, in Europe/Paris time."""
    if value is None:
        return ""
    return timezone.localtime(value, ZoneInfo(settings.TIME_ZONE)).strftime(PARIS_DATETIME_FORMAT)


class FrenchExportCSV(base_formats.CSV):
    """The CSV export: ``;`` separator and a UTF-8 BOM, so French Excel opens it in columns with its accents.

    ``FrenchCSV`` reads it back (it detects the BOM and the separator).
    """

    def export_data(self, dataset: tablib.Dataset, **kwargs: Any) -> str:
        return BOM + dataset.export("csv", delimiter=EXPORT_DELIMITER, **kwargs)

    def get_content_type(self) -> str:
        return "text/csv; charset=utf-8"


class FrenchDecimalWidget(widgets.DecimalWidget):
    """An amount: ``3160,50`` in CSV; a number in XLSX (summable, shown with the reader's decimal comma)."""

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> Any:
        if kwargs.get("force_native_type"):
            return value
        return french_decimal(value) if isinstance(value, Decimal | int | float) else ""


class FrenchDateTimeWidget(widgets.DateTimeWidget):
    """A moment in Paris time: ``16/12/2026 12:00`` in CSV; a date cell in XLSX (the library's naive Paris time)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format=PARIS_DATETIME_FORMAT, **kwargs)

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> Any:
        if kwargs.get("force_native_type"):
            return super().render(value, obj, **kwargs)
        return paris_datetime_text(value) if isinstance(value, datetime) else ""


class FrenchExportForm(SelectableFieldsExportForm):
    """The export page lists each column under the header the file will carry (French), not its English field name."""

    def _get_field_label(self, resource: Any, field_name: str) -> str:
        field = resource.fields.get(field_name)
        if field is None:
            return field_name
        return resource.export_header(field) if hasattr(resource, "export_header") else field.column_name


IMPORT_FORMATS = [FrenchCSV, base_formats.XLSX]
EXPORT_FORMATS = [FrenchExportCSV, base_formats.XLSX]
