"""TLS helpers shared by the HTTPS policy fetch and the SMTP STARTTLS probe.

Trust store: certifi's Mozilla bundle (plus an optional extra bundle) rather than the scanning
host's system store, so that two runs on two machines judge certificates against the same
anchors (the certifi version is part of the environment a run records). The extra bundle is how
the test internet's CA gets trusted.

A failed verification still yields evidence: ``classify_verify_error`` maps OpenSSL's verify code
to a ``FetchError`` and the certificate itself is read by a second handshake with verification
off (``unverified_context``), parsed by ``parse_certificate``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ssl
from pathlib import Path

import certifi
import trio
from cryptography import x509
from cryptography.x509.oid import NameOID

from survey.observations import Certificate, FetchError

#: Longest ``error_detail`` kept in a row (error texts can embed whole server replies).
MAX_DETAIL = 300

# OpenSSL X509_V_ERR_* codes (include/openssl/x509_vfy.h).
_EXPIRED = frozenset({9, 10})  # CERT_NOT_YET_VALID, CERT_HAS_EXPIRED (outside its validity)
_UNTRUSTED = frozenset({
    2,  # UNABLE_TO_GET_ISSUER_CERT
    18,  # DEPTH_ZERO_SELF_SIGNED_CERT
    19,  # SELF_SIGNED_CERT_IN_CHAIN
    20,  # UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    21,  # UNABLE_TO_VERIFY_LEAF_SIGNATURE
    27,  # CERT_UNTRUSTED
})
_NAME_MISMATCH = frozenset({62, 63, 64})  # HOSTNAME_MISMATCH, EMAIL_MISMATCH, IP_ADDRESS_MISMATCH


def system_trust_store_available() -> bool:
    paths = ssl.get_default_verify_paths()
    if paths.cafile and Path(paths.cafile).is_file():
        return True
    return bool(paths.capath) and Path(paths.capath).is_dir() and any(Path(paths.capath).iterdir())


def verifying_context(ca_bundle: Path | None = None) -> ssl.SSLContext:
    """Client context that checks the chain and the host name (TLS 1.2+ like today's MTAs).

    Trust anchors: the system's store, as a sending MTA on this machine would use (certifi's
    Mozilla bundle where the system has none), plus ``ca_bundle``.
    """
    if system_trust_store_available():
        context = ssl.create_default_context()
    else:
        context = ssl.create_default_context(cafile=certifi.where())
    if ca_bundle is not None:
        context.load_verify_locations(cafile=str(ca_bundle))
    return context


def unverified_context() -> ssl.SSLContext:
    """Client context for reading a certificate that failed verification (never for data)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    context.set_ciphers("ALL:@SECLEVEL=0")
    return context


def detail(exc: BaseException) -> str:
    """Bounded, single-line error text: the exception type and its message."""
    text = f"{type(exc).__name__}: {exc}".replace("\r", " ").replace("\n", " ")
    return text[:MAX_DETAIL]


def cause_chain(exc: BaseException) -> list[BaseException]:
    """The exception, its causes/contexts and group members (httpx and trio wrap the real error)."""
    chain: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if any(current is seen for seen in chain):
            continue
        chain.append(current)
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                todo.append(linked)
    return chain


def find_verify_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    for item in cause_chain(exc):
        if isinstance(item, ssl.SSLCertVerificationError):
            return item
    return None


def classify_verify_error(exc: ssl.SSLCertVerificationError) -> FetchError:
    """Expired (or not yet valid, as survey.mistakes words it) / untrusted (self-signed, unknown
    issuer) / wrong name / anything else (bad signature, unsuitable key usage, ...)."""
    code = exc.verify_code
    message = (exc.verify_message or str(exc)).lower()
    if code in _EXPIRED or "expired" in message or "not yet valid" in message:
        return FetchError.CERT_EXPIRED
    if code in _NAME_MISMATCH or "mismatch" in message:
        return FetchError.CERT_NAME_MISMATCH
    if code in _UNTRUSTED or "self-signed" in message or "issuer" in message:
        return FetchError.CERT_UNTRUSTED
    return FetchError.CERT_INVALID


def verify_detail(exc: ssl.SSLCertVerificationError) -> str:
    return f"verify error {exc.verify_code}: {exc.verify_message}"[:MAX_DETAIL]


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def parse_certificate(der: bytes) -> Certificate | None:
    """The fields a row keeps from a DER certificate; None when it does not parse."""
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return None
    names: tuple[str, ...] = ()
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = tuple(san.value.get_values_for_type(x509.DNSName))
    except (x509.ExtensionNotFound, ValueError):
        pass
    if not names:
        try:
            names = tuple(str(a.value) for a in
                          cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME))
        except ValueError:
            names = ()
    try:
        subject, issuer = cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()
    except ValueError:
        subject = issuer = ""
    try:
        not_before: dt.datetime | None = _utc(cert.not_valid_before_utc)
        not_after: dt.datetime | None = _utc(cert.not_valid_after_utc)
    except ValueError:
        not_before = not_after = None
    return Certificate(subject=subject, issuer=issuer, names=names, not_before=not_before,
                       not_after=not_after, sha256=hashlib.sha256(der).hexdigest())


def peer_certificate(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> Certificate | None:
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return parse_certificate(der) if der else None


def tls_version(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> str | None:
    return ssl_object.version() if ssl_object is not None else None


def ssl_object_of(stream: trio.SSLStream[trio.SocketStream]) -> ssl.SSLObject:
    """The ``ssl.SSLObject`` behind a trio SSLStream (trio forwards attributes to it)."""
    obj: ssl.SSLObject = stream._ssl_object
    return obj


async def handshake(stream: trio.SocketStream, context: ssl.SSLContext, server_name: str,
                    *, https: bool = True) -> trio.SSLStream[trio.SocketStream]:
    """TLS client handshake on a connected stream, SNI and name check against ``server_name``.

    Raises ``ssl.SSLError`` (incl. ``SSLCertVerificationError``) or ``trio.BrokenResourceError``.
    """
    tls = trio.SSLStream(stream, context, server_hostname=server_name, https_compatible=https)
    try:
        await tls.do_handshake()
    except trio.BrokenResourceError as exc:
        if isinstance(exc.__cause__, ssl.SSLError):
            raise exc.__cause__ from exc
        raise
    return tls


def wrap_address(address: str) -> str:
    """An IP literal as it appears in a URL authority (IPv6 in brackets)."""
    return f"[{address}]" if ":" in address and not address.startswith("[") else address
