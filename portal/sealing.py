"""The signed copy of a document: the exact PDF the client read, plus an evidence page, sealed with a PAdES
signature of the provider's certificate (pyHanko), so that any PDF reader shows whether it was altered since.

The certificate is a PKCS#12 file whose path and password come from the environment
(``SEGUR_SEAL_PKCS12_PATH``, ``SEGUR_SEAL_PKCS12_PASSWORD``); ``seed_demo`` creates a self-signed demo one under
``var/`` (``demo_certificate_ensure``), never to be used in production.
"""

import io
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

logger = logging.getLogger(__name__)
T = TypeVar("T")
DEMO_PASSWORD = "demo-segur"  # noqa: S105 — the self-signed demo certificate only


@dataclass(frozen=True)
class SealConfiguration:
    pkcs12_path: Path
    password: bytes


def seal_configuration() -> SealConfiguration:
    default = Path(settings.VAR_DIR) / "seal" / "demo-seal.p12"
    path = Path(os.environ.get("SEGUR_SEAL_PKCS12_PATH") or default)
    password = os.environ.get("SEGUR_SEAL_PKCS12_PASSWORD", DEMO_PASSWORD if path == default else "")
    return SealConfiguration(path, password.encode())


def demo_certificate_ensure(path: Path | None = None, password: str = DEMO_PASSWORD) -> Path:
    """A self-signed demo sealing certificate (RSA 2048, 3 years) in a PKCS#12 file, created if absent."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID

    if path is None:
        path = seal_configuration().pkcs12_path
        if os.environ.get("SEGUR_SEAL_PKCS12_PATH"):  # the provider's own certificate: never replaced by a demo one
            return path
    if path.exists():
        return path
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Éditeur Ségur (démonstration)"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Cachet de démonstration Ségur (hors production)"),
        ]
    )
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3 * 365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    data = pkcs12.serialize_key_and_certificates(
        b"segur-seal", key, certificate, None, serialization.BestAvailableEncryption(password.encode())
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def _signer() -> Any:
    from pyhanko.sign import signers

    configuration = seal_configuration()
    if not configuration.pkcs12_path.exists():
        raise RuntimeError(
            f"Certificat de scellement introuvable ({configuration.pkcs12_path}) : "
            "renseignez SEGUR_SEAL_PKCS12_PATH et SEGUR_SEAL_PKCS12_PASSWORD (ou lancez seed_demo en démonstration)."
        )
    signer = signers.SimpleSigner.load_pkcs12(str(configuration.pkcs12_path), passphrase=configuration.password)
    if signer is None:
        raise RuntimeError(
            f"Certificat de scellement illisible ({configuration.pkcs12_path}) : vérifiez le mot de passe."
        )
    return signer


def evidence_page_pdf(context: dict[str, Any]) -> bytes:
    """The evidence page (French, one A4 page) from ``templates/portal/evidence_page.html``."""
    from weasyprint import HTML

    with translation.override("fr"):
        return HTML(string=render_to_string("portal/evidence_page.html", context)).write_pdf()


def with_evidence_page(original: bytes, evidence_page: bytes) -> bytes:
    """The original PDF, byte for byte unchanged in its pages, followed by the evidence page."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(original)))
    writer.append(PdfReader(io.BytesIO(evidence_page)))
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def seal(pdf: bytes, *, reason: str, location: str = "France") -> bytes:
    """Seal ``pdf`` with a PAdES (B-B) signature of the provider's certificate."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    metadata = signers.PdfSignatureMetadata(
        field_name="CachetSegur",
        reason=reason,
        location=location,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
    )
    return in_own_thread(lambda: signers.sign_pdf(writer, metadata, signer=_signer()).getvalue())


@dataclass(frozen=True)
class SealCheck:
    intact: bool
    trusted: bool
    signer: str

    @property
    def valid(self) -> bool:
        return self.intact and self.trusted


def in_own_thread(function: Callable[[], T]) -> T:
    """pyHanko's synchronous calls run their own asyncio loop, refused inside a running one (an async view, the
    browser tests' Playwright): they run in a thread of their own."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(function).result()


def seal_validate(pdf: bytes) -> SealCheck:
    return in_own_thread(lambda: _seal_validate(pdf))


def _seal_validate(pdf: bytes) -> SealCheck:
    """Check the PAdES seal of ``pdf`` against the provider's certificate: intact (not one byte changed since) and
    made by that certificate. An unreadable or unsigned PDF is reported as not intact."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    certificate = _signer().signing_cert
    try:
        reader = PdfFileReader(io.BytesIO(pdf))
        signatures = reader.embedded_signatures
        if not signatures:
            return SealCheck(False, False, "")
        status = validate_pdf_signature(signatures[-1], ValidationContext(trust_roots=[certificate]))
    except Exception:  # a damaged file: whatever broke it, the seal does not hold
        logger.info("seal validation failed", exc_info=True)
        return SealCheck(False, False, "")
    whole_file = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    signer = status.signing_cert.subject.human_friendly
    return SealCheck(bool(status.intact and status.valid and whole_file), bool(status.trusted), signer)
