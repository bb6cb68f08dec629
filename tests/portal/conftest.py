"""A self-signed sealing certificate for the tests of online signature (made once per run, like ``seed_demo``'s)."""

import pytest

from portal.sealing import demo_certificate_ensure


@pytest.fixture(scope="session")
def seal_certificate_file(tmp_path_factory):
    return demo_certificate_ensure(tmp_path_factory.mktemp("seal") / "test-seal.p12", "test-seal-password")


@pytest.fixture
def seal_certificate(seal_certificate_file, monkeypatch):
    monkeypatch.setenv("SEGUR_SEAL_PKCS12_PATH", str(seal_certificate_file))
    monkeypatch.setenv("SEGUR_SEAL_PKCS12_PASSWORD", "test-seal-password")
    return seal_certificate_file
