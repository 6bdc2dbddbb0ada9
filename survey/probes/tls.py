"""TLS helpers shared by the HTTPS policy fetch and the SMTP STARTTLS probe.

Trust store: the scanning host's system store, as a sending MTA on that machine would use it,
and certifi's Mozilla bundle where the system has none, plus an optional extra bundle (how the
test internet's CA gets trusted). Two machines may judge a certificate differently, so a run
records which store it used (``trust_store(...).describe()`` in the manifest).

A failed verification still yields evidence: ``classify_verify_error`` maps OpenSSL's verify code
to a ``FetchError`` and the certificate itself is read by a second handshake with verification
off (``unverified_context``), parsed by ``parse_certificate``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ssl
from dataclasses import dataclass
from pathlib import Path

import certifi
import trio
from cryptography import x509
from cryptography.x509.oid import NameOID

from survey.core.observations import Certificate, FetchError

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


def _system_paths(paths: ssl.DefaultVerifyPaths) -> tuple[str | None, str | None]:
    """The system bundle file and hashed directory that exist (an empty directory does not)."""
    cafile = paths.cafile if paths.cafile and Path(paths.cafile).is_file() else None
    capath = paths.capath if paths.capath and Path(paths.capath).is_dir() \
        and any(Path(paths.capath).iterdir()) else None
    return cafile, capath


def system_trust_store_available() -> bool:
    return any(_system_paths(ssl.get_default_verify_paths()))


@dataclass(frozen=True, slots=True)
class TrustStore:
    """The anchors certificates are verified against: the system's files, else certifi's."""

    system_cafile: str | None  # the system bundle (OpenSSL's default, or $SSL_CERT_FILE)
    system_capath: str | None  # the system hashed directory (or $SSL_CERT_DIR)
    certifi_cafile: str | None  # set when the system has no store: certifi's Mozilla bundle
    certifi_version: str | None
    ca_bundle: str | None  # --ca-bundle, trusted in addition

    @property
    def source(self) -> str:
        return "certifi" if self.certifi_cafile is not None else "system"

    def describe(self) -> dict[str, str | None]:
        """The store as the run manifest records it (pure: no file system access)."""
        return {"source": self.source, "system_cafile": self.system_cafile,
                "system_capath": self.system_capath, "certifi_cafile": self.certifi_cafile,
                "certifi_version": self.certifi_version, "ca_bundle": self.ca_bundle}


def trust_store(ca_bundle: Path | None = None,
                paths: ssl.DefaultVerifyPaths | None = None) -> TrustStore:
    """The store ``verifying_context`` uses on this machine (``paths``: OpenSSL's defaults)."""
    cafile, capath = _system_paths(paths or ssl.get_default_verify_paths())
    extra = None if ca_bundle is None else str(ca_bundle)
    if cafile is None and capath is None:
        return TrustStore(None, None, certifi.where(), certifi.__version__, extra)
    return TrustStore(cafile, capath, None, None, extra)


def verifying_context(ca_bundle: Path | None = None) -> ssl.SSLContext:
    """Client context that checks the chain and the host name (TLS 1.2+ like today's MTAs).

    Trust anchors: ``trust_store(ca_bundle)``, i.e. the system's store (certifi's Mozilla bundle
    where the system has none) plus ``ca_bundle``.
    """
    return context_for(trust_store(ca_bundle))


def context_for(store: TrustStore) -> ssl.SSLContext:
    """A verifying client context trusting exactly ``store``."""
    if store.certifi_cafile is not None:
        context = ssl.create_default_context(cafile=store.certifi_cafile)
    else:
        context = ssl.create_default_context()  # OpenSSL's default paths, as found
    if store.ca_bundle is not None:
        context.load_verify_locations(cafile=store.ca_bundle)
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
    """Bounded, single-line error text: the exception type and its message.

    httpx and trio often wrap the real error in one with no message (a bare ``ConnectError``
    around trio's ``BrokenResourceError`` around the ``ssl.SSLError``); the row must still say
    why, so an empty message is followed by the first non-empty one down the cause chain.
    """
    text = f"{type(exc).__name__}: {exc}"
    if not str(exc):
        cause = next((e for e in cause_chain(exc)[1:] if str(e)), None)
        if cause is not None:
            text += f"{type(cause).__name__}: {cause}"
    return text.replace("\r", " ").replace("\n", " ")[:MAX_DETAIL]


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
    """Expired (or not yet valid, as core.mistakes words it) / untrusted (self-signed, unknown
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


#: Most certificates of a presented chain kept for DANE (a server may send a long chain).
MAX_CHAIN = 10


def presented_chain(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> tuple[bytes, ...]:
    """The chain the server presented (DER, leaf first, at most ``MAX_CHAIN``), for checking
    it against TLSA records (DANE-TA matches any certificate of it, RFC 7671 §5.2).

    Python 3.13 has ``get_unverified_chain``; 3.10-3.12 have it on the private ``_sslobj``
    (returning ``_ssl.Certificate`` objects). Without either, only the leaf.
    """
    if ssl_object is None:
        return ()
    getter = getattr(ssl_object, "get_unverified_chain", None) or getattr(
        getattr(ssl_object, "_sslobj", None), "get_unverified_chain", None)
    chain: list[bytes] = []
    if getter is not None:
        for cert in getter() or ():
            der = cert if isinstance(cert, bytes) else cert.public_bytes(ssl._ssl.ENCODING_DER)  # type: ignore[attr-defined]
            chain.append(bytes(der))
    if not chain:
        leaf = ssl_object.getpeercert(binary_form=True)
        chain = [leaf] if leaf else []
    return tuple(chain[:MAX_CHAIN])


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
