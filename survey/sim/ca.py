"""The test internet's certificate authority: one trusted CA, one "untrusted" CA, lazy leaves.

The scanner trusts ``bundle_path`` (its ``--ca-bundle``), which holds the trusted CA only, so each
``CertKind`` fails verification the way a real misconfiguration does: EXPIRED with OpenSSL's
"certificate has expired", SELF_SIGNED and UNTRUSTED_CA as unknown issuers, WRONG_NAME as a host
name mismatch. All keys are ECDSA P-256 and every leaf shares one key, so that a world with
thousands of policy hosts costs one signature per (name, kind) on first use and no key generation.

DANE (RFC 6698): ``tlsa_data`` gives the association data of what a host presents. The leaf key
is kept in the directory with the CAs, so SPKI-based TLSA records (``x 1 x``) match in every
process that serves from it; a certificate whose whole DER a record covers (``x 0 x``) is pinned
in this instance (signed once, then always presented), so those records match only the servers of
the instance that computed them. Hosts with DANE-TA records present their issuer in the chain.

A directory that already holds a CA is reused rather than overwritten, so that several server
processes started on the same directory (after one made it) serve chains the same bundle trusts.
Python's ``ssl`` loads certificate chains only from files: each leaf is written to a scratch file
and loaded at once. On Linux the scratch files are memfds (no disk I/O, no private key on disk).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
import ssl
import weakref
from collections import OrderedDict
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from survey.sim.scenario import CertKind

#: Name on the WRONG_NAME leaf (valid chain, another host's name).
WRONG_NAME = "wrong.invalid"
#: Name on the certificate served when the client's SNI names no known host (or is missing).
UNKNOWN_NAME = "unknown.invalid"

_LEAF_LIFETIME = dt.timedelta(days=90)
_CA_LIFETIME = dt.timedelta(days=3650)
_BACKDATE = dt.timedelta(days=1)  # tolerate clock skew between CA creation and a scan
_EXPIRED_AGO = dt.timedelta(days=30)


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mta-sts-survey test internet"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def make_ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed root with the extensions strict verifiers (X509_STRICT) require."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_leaf(name: str, key: ec.EllipticCurvePrivateKey,
              issuer: tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None,
              *, expired: bool = False) -> x509.Certificate:
    """A server certificate for ``name`` (SAN), signed by ``issuer`` or by ``key`` itself."""
    now = dt.datetime.now(dt.UTC)
    if expired:
        not_before, not_after = now - _EXPIRED_AGO - _LEAF_LIFETIME, now - _EXPIRED_AGO
    else:
        not_before, not_after = now - _BACKDATE, now + _LEAF_LIFETIME
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    if issuer is None:
        return builder.issuer_name(_name(name)).sign(key, hashes.SHA256())
    issuer_key, issuer_cert = issuer
    return (
        builder.issuer_name(issuer_cert.subject)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer_key.public_key()), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


def _load_or_make_key(path: Path) -> ec.EllipticCurvePrivateKey:
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key
    key = ec.generate_private_key(ec.SECP256R1())
    _write_atomic(path, _key_pem(key))
    return key


def association(cert: x509.Certificate, selector: int, mtype: int) -> bytes:
    """TLSA certificate association data of ``cert`` (RFC 6698 §2.1.2-2.1.3): selector 0 the
    DER certificate, 1 its DER SubjectPublicKeyInfo; matching type 0 as is, 1 SHA-256, 2 SHA-512."""
    match selector:
        case 0:
            data = cert.public_bytes(serialization.Encoding.DER)
        case 1:
            data = cert.public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
        case _:
            raise ValueError(f"TLSA selector {selector} is not defined")
    match mtype:
        case 0:
            return data
        case 1:
            return hashlib.sha256(data).digest()
        case 2:
            return hashlib.sha512(data).digest()
        case _:
            raise ValueError(f"TLSA matching type {mtype} is not defined")


def _load_or_make_ca(directory: Path, stem: str,
                     common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key_path, cert_path = directory / f"{stem}.key", directory / f"{stem}.pem"
    if key_path.exists() and cert_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if isinstance(key, ec.EllipticCurvePrivateKey) and \
                cert.not_valid_after_utc > dt.datetime.now(dt.UTC) + _LEAF_LIFETIME:
            return key, cert
    key, cert = make_ca(common_name)
    _write_atomic(key_path, _key_pem(key))
    _write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


class _Scratch:
    """A path Python's ``ssl`` can read, rewritten in place (memfd on Linux, else a file)."""

    def __init__(self, directory: Path, stem: str) -> None:
        self._fd: int | None = None
        if hasattr(os, "memfd_create") and Path("/proc/self/fd").is_dir():
            self._fd = os.memfd_create(stem, os.MFD_CLOEXEC)
            self.path = Path(f"/proc/self/fd/{self._fd}")
            weakref.finalize(self, os.close, self._fd)
        else:
            tag = f"{os.getpid()}-{secrets.token_hex(4)}"  # one file per instance and process
            self.path = directory / f".{stem}-{tag}.pem"

    def write(self, data: bytes) -> None:
        if self._fd is None:
            self.path.write_bytes(data)
        else:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, data, 0)


class TestCA:
    """Trusted and untrusted CAs plus a cache of server ``SSLContext``s per (name, kind)."""

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, directory: Path, *, cache_size: int = 4096) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._trusted = _load_or_make_ca(directory, "ca", "mta-sts-survey test CA")
        self._untrusted = _load_or_make_ca(directory, "untrusted-ca",
                                           "mta-sts-survey untrusted CA")
        self.bundle_path = directory / "ca.pem"  # the trusted CA only
        self._leaf_key = _load_or_make_key(directory / "leaf.key")
        self._key_file = _Scratch(directory, "leaf-key")
        self._key_file.write(_key_pem(self._leaf_key))
        self._cert_file = _Scratch(directory, "leaf-cert")
        #: LRU of contexts: about 20 KiB each, so a world with 100k policy hosts stays small;
        #: a context evicted while a connection uses it lives on with that connection.
        self._contexts: OrderedDict[tuple[str, CertKind, bool], ssl.SSLContext] = OrderedDict()
        self._cache_size = cache_size
        #: leaves a TLSA record was computed from: presented as they are from then on
        self._pinned: dict[tuple[str, CertKind], x509.Certificate] = {}

    def certificate(self, name: str, kind: CertKind) -> x509.Certificate:
        """The leaf certificate presented for ``name`` under ``kind``: the pinned one, if a TLSA
        record was computed from it, else freshly signed."""
        pinned = self._pinned.get(_identity(name, kind))
        return pinned if pinned is not None else self._sign(name, kind)

    def issuer(self, name: str, kind: CertKind) -> x509.Certificate:
        """The certificate that issued ``name``'s leaf under ``kind`` (itself when self-signed)."""
        match kind:
            case CertKind.SELF_SIGNED:
                return self.pin(name, kind)
            case CertKind.UNTRUSTED_CA:
                return self._untrusted[1]
            case _:
                return self._trusted[1]

    def pin(self, name: str, kind: CertKind) -> x509.Certificate:
        """Sign ``name``'s leaf under ``kind`` once and present that one from now on."""
        key = _identity(name, kind)
        cert = self._pinned.get(key)
        if cert is None:
            cert = self._pinned[key] = self._sign(*key)
        return cert

    def tlsa_data(self, name: str, kind: CertKind, usage: int, selector: int,
                  mtype: int) -> bytes:
        """Association data a TLSA record needs to match what ``name``'s SMTP server presents
        under ``kind``: the leaf for usages 1 and 3 (PKIX-EE, DANE-EE), its issuer for 0 and 2."""
        if usage in (1, 3):
            return association(self.pin(name, kind), selector, mtype)
        if usage in (0, 2):
            return association(self.issuer(name, kind), selector, mtype)
        raise ValueError(f"TLSA usage {usage} is not defined")

    def _sign(self, name: str, kind: CertKind) -> x509.Certificate:
        match kind:
            case CertKind.VALID:
                return make_leaf(name, self._leaf_key, self._trusted)
            case CertKind.EXPIRED:
                return make_leaf(name, self._leaf_key, self._trusted, expired=True)
            case CertKind.SELF_SIGNED:
                return make_leaf(name, self._leaf_key, None)
            case CertKind.WRONG_NAME:
                return make_leaf(WRONG_NAME, self._leaf_key, self._trusted)
            case CertKind.UNTRUSTED_CA:
                return make_leaf(name, self._leaf_key, self._untrusted)

    def new_context(self, name: str, kind: CertKind, *, chain: bool = False) -> ssl.SSLContext:
        """A fresh (uncached) server context; listeners use one as the SNI-switching base.

        ``chain``: present the issuer after the leaf (DANE-TA needs it in the chain)."""
        cert = self.certificate(name, kind)
        pem = cert.public_bytes(serialization.Encoding.PEM)
        if chain and kind is not CertKind.SELF_SIGNED:
            pem += self.issuer(name, kind).public_bytes(serialization.Encoding.PEM)
        self._cert_file.write(pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.num_tickets = 0  # no resumption in a scan: skip minting TLS 1.3 tickets
        context.load_cert_chain(self._cert_file.path, self._key_file.path)
        return context

    def server_context(self, name: str, kind: CertKind, *,
                       chain: bool = False) -> ssl.SSLContext:
        """Cached server context for (name, kind, chain); made on first use (about 1 ms)."""
        name, kind = _identity(name, kind)
        key = (name, kind, chain)
        context = self._contexts.get(key)
        if context is not None:
            self._contexts.move_to_end(key)
            return context
        context = self._contexts[key] = self.new_context(name, kind, chain=chain)
        if len(self._contexts) > self._cache_size:
            self._contexts.popitem(last=False)
        return context


def _identity(name: str, kind: CertKind) -> tuple[str, CertKind]:
    """The (name, kind) a leaf is made for: every WRONG_NAME host gets one certificate."""
    name = name.lower().rstrip(".")
    return (WRONG_NAME if kind is CertKind.WRONG_NAME else name), kind
