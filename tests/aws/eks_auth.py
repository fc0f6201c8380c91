"""What stands between a client and an EKS cluster's API server, for fake_kube.py's
TLS listener: a certificate the client must trust through the CA that DescribeCluster
hands out, and the EKS bearer token the API server's authenticator checks.

The certificate: a CA made at start (EKS gives every cluster its own) and a server
certificate it signs for 127.0.0.1 (an IP SAN, as rustls checks it) and localhost.
Made with `cryptography`, which moto already depends on.

The token: `k8s-aws-v1.` + base64url (no padding) of a presigned STS
GetCallerIdentity URL, checked as aws-iam-authenticator's `tokenVerifier.Verify`
(pkg/token/token.go) checks it before it replays the URL to STS: the prefix, the
encoding, https, a host `sts.amazonaws.com` or `sts.<region>.amazonaws.com[.cn]`, path
`/`, only the query parameters STS presigning uses, each once, Action
GetCallerIdentity, `x-k8s-aws-id` among the signed headers, X-Amz-Expires from 0 to
900, and an X-Amz-Date no more than 15 minutes old. It also wants the other SigV4
query parameters (Version 2011-06-15, algorithm AWS4-HMAC-SHA256, credential,
signature), which STS would refuse the URL without, and refuses an X-Amz-Date more
than 15 minutes in the future (STS's "Signature not yet current"). What it cannot do
is replay the URL to STS: the signature is checked for its shape, not its value.
"""

import base64
import datetime
import ipaddress
import os
import re
import ssl
import tempfile
from urllib.parse import parse_qsl, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PREFIX = "k8s-aws-v1."
# aws-iam-authenticator's maxTokenLenBytes.
MAX_TOKEN_LEN = 1024 * 4
# How long after its X-Amz-Date the authenticator accepts a token.
EXPIRATION = datetime.timedelta(minutes=15)
# How far ahead of the server's clock STS accepts a signature's date.
FUTURE_SKEW = datetime.timedelta(minutes=15)
# aws-iam-authenticator's parameterWhitelist.
ALLOWED_PARAMS = {
    "action", "version", "x-amz-algorithm", "x-amz-credential", "x-amz-date",
    "x-amz-expires", "x-amz-security-token", "x-amz-signature", "x-amz-signedheaders",
}
STS_HOST = re.compile(r"sts(\.[a-z0-9-]+)?\.amazonaws\.com(\.cn)?")


def make_certificates(host="127.0.0.1"):
    """(CA PEM, server certificate PEM, server key PEM) for `host`, valid for a day."""
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(host)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ca.public_bytes(pem), cert.public_bytes(pem), key_pem


def server_context(cert_pem, key_pem):
    """A TLS server context for the certificate (ssl loads keys only from files, which
    are removed once read)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory(prefix="fake-kube-tls-") as folder:
        cert_path, key_path = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
        with open(cert_path, "wb") as f:
            f.write(cert_pem)
        with open(key_path, "wb") as f:
            f.write(key_pem)
        context.load_cert_chain(cert_path, key_path)
    return context


class TokenError(Exception):
    """Why a bearer token is refused (the authenticator's words where it has them)."""


def check_token(authorization, now=None):
    """The token's query parameters (names lowercased) if `authorization` carries an
    EKS token the authenticator would accept at `now`; raises TokenError otherwise."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise TokenError("no bearer token")
    if len(token) > MAX_TOKEN_LEN:
        raise TokenError("token is too large")
    if not token.startswith(PREFIX):
        raise TokenError(f'token is missing expected "{PREFIX}" prefix')
    encoded = token[len(PREFIX):]
    if "=" in encoded:
        raise TokenError("illegal base64 data: padding")
    try:
        url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as e:
        raise TokenError(f"illegal base64 data: {e}") from e
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise TokenError(f'unexpected scheme "{parts.scheme}" in pre-signed URL')
    if not STS_HOST.fullmatch(parts.netloc):
        raise TokenError(f"partition {{aws}} does not support hostname {parts.netloc}")
    if parts.path != "/":
        raise TokenError("unexpected path in pre-signed URL")
    params = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True):
        lower = key.lower()
        if lower not in ALLOWED_PARAMS:
            raise TokenError(f'non-whitelisted query parameter "{key}"')
        if lower in params:
            raise TokenError(f'duplicate query parameter found: "{key}"')
        params[lower] = value
    if params.get("action") != "GetCallerIdentity":
        raise TokenError("unexpected action parameter in pre-signed URL")
    if "x-k8s-aws-id" not in params.get("x-amz-signedheaders", "").lower().split(";"):
        raise TokenError("client did not sign the x-k8s-aws-id header in the pre-signed URL")
    expires = params.get("x-amz-expires", "")
    if not expires.isdigit() or int(expires) > 900:
        raise TokenError(f"invalid X-Amz-Expires parameter in pre-signed URL: {expires}")
    for name, wanted in (("version", "2011-06-15"), ("x-amz-algorithm", "AWS4-HMAC-SHA256")):
        if params.get(name) != wanted:
            raise TokenError(f"{name} is {params.get(name)!r}, not {wanted!r}")
    credential = params.get("x-amz-credential", "").split("/")
    if len(credential) != 5 or credential[3] != "sts" or credential[4] != "aws4_request":
        raise TokenError(f"malformed X-Amz-Credential {params.get('x-amz-credential')!r}")
    if not re.fullmatch(r"[0-9a-f]{64}", params.get("x-amz-signature", "")):
        raise TokenError("X-Amz-Signature is not a SigV4 signature")
    date = params.get("x-amz-date", "")
    if not date:
        raise TokenError("X-Amz-Date parameter must be present in pre-signed URL")
    try:
        signed = datetime.datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc
        )
    except ValueError as e:
        raise TokenError(f"error parsing X-Amz-Date parameter {date}: {e}") from e
    if now > signed + EXPIRATION:
        raise TokenError(f"X-Amz-Date parameter is expired (15 minute expiration) {signed}")
    if signed > now + FUTURE_SKEW:
        raise TokenError(f"X-Amz-Date parameter {signed} is in the future (signature not yet current)")
    return params
