"""Messages, retry limits and a TLS certificate shared by the client tests."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hmpush.client import RetryPolicy
from hmpush.messages import AlertPayload, ClickAction, FormUpdatePayload, Notification

# Tiny back-offs keep retry tests fast; the budget still allows every configured attempt.
# Unanswered requests are resent too (not the default), so that every retry path is exercised.
FAST_RETRY = RetryPolicy(
    max_attempts=4,
    max_total_seconds=30.0,
    initial_backoff=0.001,
    max_backoff=0.01,
    retry_unanswered=True,
)


def notification(title: str = "Order shipped") -> AlertPayload:
    """A plain push-type 0 notification that opens the app's home page."""
    return AlertPayload(
        notification=Notification(
            category="MARKETING",
            title=title,
            body="Your parcel is on its way.",
            click_action=ClickAction(action_type=0),
        )
    )


def widget_refresh() -> FormUpdatePayload:
    """A push-type 1 widget refresh."""
    return FormUpdatePayload(
        form_id=1,
        version=1,
        module_name="entry",
        form_name="weather",
        ability_name="WeatherWidget",
        form_data={"temperature": 21},
    )


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its PKCS#8 key (as Granian wants it), valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_path = directory / "server.crt"
    key_path = directory / "server.key"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return certificate_path, key_path
