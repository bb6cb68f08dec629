"""The signature evidence chain (AF §4.3, §6.4; Code civil art. 1366–1367): each ``SignatureEvidence`` row holds the
previous row's hash and its own hash over its content, so editing, removing or reordering any row breaks the chain
from that row on; ``verify_signature_evidence`` checks the whole chain."""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.db import connection, transaction

from portal.models import SignatureEvidence

GENESIS = "0" * 64
# The fields a row's hash covers, in this order (the row's own hash and primary key aside).
HASHED_FIELDS = (
    "order_id",
    "document_id",
    "signed_document_id",
    "client_id",
    "signatory_name",
    "signatory_capacity",
    "email",
    "code_sent_at",
    "code_verified_at",
    "ip_address",
    "user_agent",
    "consent_text",
    "document_sha256",
    "signed_sha256",
    "signed_at",
    "previous_hash",
)


def row_digest(row: SignatureEvidence) -> str:
    """SHA-256 of the row's content in a canonical JSON form (datetimes in UTC ISO format)."""
    content: dict[str, Any] = {}
    for name in HASHED_FIELDS:
        value = getattr(row, name)
        content[name] = value.astimezone(UTC).isoformat() if hasattr(value, "astimezone") else value
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def evidence_append(**fields: Any) -> SignatureEvidence:
    """Append one evidence row after the last one; the table is locked meanwhile, so two signatures at the same
    instant are chained one after the other."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {SignatureEvidence._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")
        last = SignatureEvidence.objects.order_by("-pk").only("row_hash").first()
        row = SignatureEvidence(previous_hash=last.row_hash if last else GENESIS, **fields)
        row.row_hash = row_digest(row)
        row.save()
    return row


@dataclass(frozen=True)
class ChainProblem:
    evidence_id: int
    message: str


def evidence_chain_verify() -> list[ChainProblem]:
    """Every break of the chain: a row whose content no longer matches its hash, or whose previous hash is not the
    hash of the row before it. Empty when the whole chain holds."""
    problems: list[ChainProblem] = []
    previous = GENESIS
    for row in SignatureEvidence.objects.order_by("pk").iterator(chunk_size=500):
        if row.previous_hash != previous:
            problems.append(ChainProblem(row.pk, "la preuve précédente a été modifiée, supprimée ou déplacée"))
        if row_digest(row) != row.row_hash:
            problems.append(ChainProblem(row.pk, "le contenu de cette preuve a été modifié"))
        previous = row.row_hash
    return problems
