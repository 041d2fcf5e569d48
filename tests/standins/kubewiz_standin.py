"""Shared code of the Kubernetes stand-ins that lab hosts run instead of kubeadm, the
kubelet, the control plane and containerd (tests only, never shipped).

The stand-ins live next to this module (in the repository: tests/standins/; on a lab
host: /usr/local/bin, where a bundle install puts every file of the bundle's bin/), and
Python finds it there because a script's own directory is first on sys.path.

What is here copies what the real programs share:
- Go-style error texts (dial errors, x509 errors) and klog's log line format;
- certificates through the openssl CLI (kubeadm's pkiutil, client-go's cert helpers);
- kubeconfig files as client-go reads and writes them;
- a Kubernetes API client (client-go's REST client, reduced to what the stand-ins use);
- an etcd client over etcd's v3 JSON gateway (what kube-apiserver does over gRPC);
- the HTTP/2 greeting a gRPC server (containerd's CRI endpoint) gives.

The version kubeadm and the kubelet report is a line of their own file
(`# kubewiz-standin-version: v1.35.0`), v1.34.2 without it: see installed_version().
"""
import base64
import datetime
import hashlib
import hmac
import http.client
import ipaddress
import json
import os
import random
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import yaml

# libyaml's safe loader where PyYAML has it (Debian's does): the stand-ins read
# kubeconfigs and manifests over and over, and under emulation in a VM the pure Python
# loader costs about 30 times as much CPU (1.2 s against 0.04 s for a control plane's
# four manifests).
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

DEFAULT_VERSION = "v1.34.2"
# A program carries its version in a line of its own file, as a real binary does: an
# upgrade replaces kubeadm first and the kubelet later, each with its version.
VERSION_MARK = "# kubewiz-standin-version: "


def installed_version():
    """The Kubernetes version of the running program (what `kubeadm version` and
    `kubelet --version` print): its file's line `# kubewiz-standin-version: v1.35.0`
    (a missing "v" is added), else DEFAULT_VERSION. A test bundle of another version is
    the same stand-ins with that line changed in kubeadm and kubelet."""
    try:
        with open(os.path.realpath(sys.argv[0])) as f:
            text = next((line[len(VERSION_MARK):].strip() for line in f.read(4096).splitlines()
                         if line.startswith(VERSION_MARK)), "")
    except (OSError, UnicodeDecodeError, IndexError):
        return DEFAULT_VERSION
    if not re.match(r"^v?\d+\.\d+\.\d+\S*$", text):
        return DEFAULT_VERSION
    return text if text.startswith("v") else "v" + text


KUBERNETES_VERSION = installed_version()
DEFAULT_CRI_SOCKET = "unix:///var/run/containerd/containerd.sock"
STANDIN_STATE = "/run/kubewiz-standin"


# ---------------------------------------------------------------- logs and errors


def klog(severity, source, message):
    """One klog line on stderr, as Kubernetes' Go programs write them:
    `W1122 05:12:01.123456    1234 file.go:42] message`."""
    now = datetime.datetime.now()
    sys.stderr.write("%s%s %7d %s] %s\n" % (severity, now.strftime("%m%d %H:%M:%S.%f"),
                                            os.getpid(), source, message))
    sys.stderr.flush()


def go_duration(seconds):
    """Go's time.Duration String(): 4m0s, 1.5s, 250ms."""
    if seconds < 1:
        return "%gms" % round(seconds * 1000, 3)
    whole = int(seconds)
    frac = seconds - whole
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    secs = ("%.9f" % (s + frac)).rstrip("0").rstrip(".") + "s"
    if h:
        return "%dh%dm%s" % (h, m, secs)
    if m:
        return "%dm%s" % (m, secs)
    return secs


def parse_go_duration(text):
    """Go's time.ParseDuration for the units kubeadm configs use; None when invalid."""
    if not isinstance(text, str) or not text:
        return None
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    if "".join(n + u for n, u in parts) != text:
        return None
    scale = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * scale[u] for n, u in parts)


def dial_error(host, port, exc):
    """The text Go's net package gives for a failed TCP dial."""
    target = "%s:%s" % (("[%s]" % host) if ":" in host else host, port)
    if isinstance(exc, ConnectionRefusedError):
        return "dial tcp %s: connect: connection refused" % target
    if isinstance(exc, socket.gaierror):
        return "dial tcp: lookup %s: no such host" % host
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "dial tcp %s: i/o timeout" % target
    if isinstance(exc, OSError) and exc.errno == 113:
        return "dial tcp %s: connect: no route to host" % target
    if isinstance(exc, OSError) and exc.errno == 101:
        return "dial tcp %s: connect: network is unreachable" % target
    return "dial tcp %s: %s" % (target, exc)


def tls_error(exc):
    """The text Go's crypto/tls gives for a failed handshake."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or str(exc)
        if "expired" in reason or "not yet valid" in reason:
            return "tls: failed to verify certificate: x509: certificate has expired or is not yet valid"
        return "tls: failed to verify certificate: x509: certificate signed by unknown authority"
    text = str(exc)
    if "TLSV1_ALERT_UNKNOWN_CA" in text or "unknown ca" in text:
        return "remote error: tls: unknown certificate authority"
    if "CERTIFICATE_REQUIRED" in text or "certificate required" in text:
        return "remote error: tls: certificate required"
    if "BAD_CERTIFICATE" in text:
        return "remote error: tls: bad certificate"
    return "tls: %s" % text


# ---------------------------------------------------------------- files


def read_text(path):
    with open(path) as f:
        return f.read()


def write_file(path, content, mode=0o644):
    """Writes through a temporary file and a rename, as kubeadm's writers do, creating
    missing parent directories with 0755."""
    os.makedirs(os.path.dirname(path) or "/", mode=0o755, exist_ok=True)
    tmp = "%s.tmp-%d" % (path, os.getpid())
    data = content.encode() if isinstance(content, str) else content
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def go_open_error(path, exc):
    """Go's *PathError text for a failed open."""
    if isinstance(exc, FileNotFoundError):
        return "open %s: no such file or directory" % path
    if isinstance(exc, PermissionError):
        return "open %s: permission denied" % path
    if isinstance(exc, IsADirectoryError):
        return "read %s: is a directory" % path
    return "open %s: %s" % (path, exc.strerror or exc)


# ---------------------------------------------------------------- certificates (openssl)


class PkiError(Exception):
    """A certificate or key that cannot be used, with kubeadm's wording."""


def openssl(*args, stdin=None):
    """Runs the openssl CLI; returns stdout, raises PkiError with stderr on failure."""
    out = subprocess.run(["openssl"] + list(args), input=stdin, capture_output=True)
    if out.returncode != 0:
        raise PkiError(out.stderr.decode(errors="replace").strip())
    return out.stdout.decode(errors="replace")


def pem_blocks(text, kind):
    """The PEM blocks of one kind (e.g. CERTIFICATE) in `text`."""
    return re.findall(r"-----BEGIN %s-----.*?-----END %s-----\n?" % (kind, kind), text, re.S)


def load_cert_file(path):
    """client-go's certutil.CertsFromFile: the file must exist and hold a certificate."""
    try:
        text = read_text(path)
    except OSError as e:
        raise PkiError("couldn't load the certificate file %s: %s" % (path, go_open_error(path, e)))
    if not pem_blocks(text, "CERTIFICATE"):
        raise PkiError("couldn't load the certificate file %s: data does not contain any valid RSA or ECDSA certificates" % path)
    return text


def cert_info(path, ca_flag=False):
    """Subject, issuer, validity, SANs (and with ca_flag whether it is a CA) of the
    first certificate in `path`."""
    load_cert_file(path)
    decoded = ssl._ssl._test_decode_cert(path)
    text = openssl("x509", "-noout", "-in", path, "-ext", "basicConstraints") if ca_flag else ""

    def names(rdns):
        out = {}
        for rdn in rdns:
            for key, value in rdn:
                out.setdefault(key, []).append(value)
        return out

    subject = names(decoded.get("subject", ()))
    return {
        "cn": (subject.get("commonName") or [""])[0],
        "orgs": subject.get("organizationName", []),
        "issuer_cn": (names(decoded.get("issuer", ())).get("commonName") or [""])[0],
        "not_before": ssl.cert_time_to_seconds(decoded["notBefore"]),
        "not_after": ssl.cert_time_to_seconds(decoded["notAfter"]),
        "dns": [v for k, v in decoded.get("subjectAltName", ()) if k == "DNS"],
        "ips": [normalize_ip(v) for k, v in decoded.get("subjectAltName", ()) if k == "IP Address"],
        "is_ca": "CA:TRUE" in text,
    }


def normalize_ip(text):
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return text.strip()


def parse_ip(text):
    try:
        return ipaddress.ip_address(text)
    except (ValueError, TypeError):
        return None


def verify_hostname(info, host):
    """Go's x509.Certificate.VerifyHostname, with its error texts. None when valid."""
    ip = parse_ip(host.strip("[]"))
    if ip is not None:
        if str(ip) in info["ips"]:
            return None
        if not info["ips"]:
            return "x509: cannot validate certificate for %s because it doesn't contain any IP SANs" % host
        return "x509: certificate is valid for %s, not %s" % (", ".join(info["ips"]), host)
    wanted = host.lower().rstrip(".")
    for name in info["dns"]:
        name = name.lower()
        if name == wanted:
            return None
        if name.startswith("*.") and "." in wanted and wanted.split(".", 1)[1] == name[2:]:
            return None
    if not info["dns"]:
        return "x509: certificate is not valid for any names, but wanted to match %s" % host
    return "x509: certificate is valid for %s, not %s" % (", ".join(info["dns"]), host)


def verify_chain(cert_path, ca_path):
    """Go's x509 Verify against one root: signature and validity period of the chain.
    Returns None, or Go's error text."""
    result = subprocess.run(["openssl", "verify", "-CAfile", ca_path, "-untrusted", cert_path, cert_path],
                            capture_output=True, text=True)
    if result.returncode == 0:
        return None
    detail = result.stderr + result.stdout
    if "expired" in detail or "not yet valid" in detail:
        info = cert_info(cert_path)
        now = datetime.datetime.now(datetime.timezone.utc)
        bound = info["not_after"] if "expired" in detail else info["not_before"]
        when = datetime.datetime.fromtimestamp(bound, datetime.timezone.utc)
        relation = "after" if "expired" in detail else "before"
        return "x509: certificate has expired or is not yet valid: current time %s is %s %s" % (
            now.strftime("%Y-%m-%dT%H:%M:%SZ"), relation, when.strftime("%Y-%m-%dT%H:%M:%SZ"))
    ca_cn = cert_info(ca_path)["cn"]
    if cert_info(cert_path)["issuer_cn"] != ca_cn:
        return "x509: certificate signed by unknown authority"
    return ('x509: certificate signed by unknown authority (possibly because of "crypto/rsa: verification error" '
            'while trying to verify candidate authority certificate "%s")' % ca_cn)


def key_kind(path):
    """"RSA" or "ECDSA" for a key kubeadm accepts; raises PkiError with kubeadm's text
    for a missing file or another key type (kubeadm loads RSA and ECDSA keys only)."""
    try:
        text = read_text(path)
    except OSError as e:
        raise PkiError("couldn't load the private key file %s: %s" % (path, go_open_error(path, e)))
    try:
        dump = openssl("pkey", "-in", path, "-noout", "-text")
    except PkiError:
        raise PkiError("couldn't load the private key file %s: error reading private key file %s: data does not contain a valid RSA or ECDSA private key" % (path, path))
    first = dump.splitlines()[0] if dump else ""
    if "ED25519" in first or "ED448" in first or ("PRIVATE KEY" not in text):
        raise PkiError("couldn't load the private key file %s: error reading private key file %s: data does not contain a valid RSA or ECDSA private key" % (path, path))
    return "ECDSA" if "ASN1 OID" in dump or "NIST CURVE" in dump else "RSA"


def spki_sha256(cert_pem):
    """kubeadm's pubkeypin.Hash: sha256 of the certificate's DER SubjectPublicKeyInfo."""
    pub = openssl("x509", "-pubkey", "-noout", stdin=cert_pem.encode())
    body = "".join(line for line in pub.splitlines() if not line.startswith("-----"))
    return "sha256:" + hashlib.sha256(base64.b64decode(body)).hexdigest()


def new_key(algorithm="RSA-2048"):
    """A private key in PKCS#8 PEM for kubeadm's encryptionAlgorithm names."""
    if algorithm == "ECDSA-P256":
        return openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
    bits = {"RSA-3072": "3072", "RSA-4096": "4096"}.get(algorithm, "2048")
    return openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:" + bits)


def public_key_pem(key_pem):
    return openssl("pkey", "-pubout", stdin=key_pem.encode())


def subject_arg(cn, orgs=()):
    """An openssl -subj argument; O before CN as Go writes subjects."""
    def esc(v):
        return v.replace("\\", "\\\\").replace("/", "\\/").replace("=", "\\=")
    return "".join("/O=" + esc(o) for o in orgs) + "/CN=" + esc(cn)


def new_csr(key_pem, cn, orgs=()):
    with tempfile.TemporaryDirectory() as d:
        key = os.path.join(d, "k")
        write_file(key, key_pem, 0o600)
        return openssl("req", "-new", "-key", key, "-subj", subject_arg(cn, orgs))


def csr_subject(csr_pem):
    """CN and O's of a CSR."""
    text = openssl("req", "-noout", "-subject", "-nameopt", "RFC2253", stdin=csr_pem.encode())
    subject = text.split("=", 1)[1].strip() if "=" in text else ""
    cn, orgs = "", []
    for part in re.split(r"(?<!\\),", subject):
        key, _, value = part.partition("=")
        if key.strip() == "CN":
            cn = value
        elif key.strip() == "O":
            orgs.append(value)
    return cn, orgs


def sign_csr(csr_pem, ca_cert, ca_key, usages=("clientAuth",), dns=(), ips=(), days=365):
    """Signs a CSR with the CA, as kubeadm's pkiutil and kube-controller-manager's
    csrsigning do: keyUsage digitalSignature+keyEncipherment, the given extended key
    usages, a random serial in [1, 2^63)."""
    ext = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
           "extendedKeyUsage=" + ",".join(usages), "authorityKeyIdentifier=keyid"]
    sans = ["DNS:" + n for n in dns] + ["IP:" + i for i in ips]
    if sans:
        ext.append("subjectAltName=" + ",".join(sans))
    with tempfile.TemporaryDirectory() as d:
        csr, extfile = os.path.join(d, "csr"), os.path.join(d, "ext")
        write_file(csr, csr_pem)
        write_file(extfile, "\n".join(ext) + "\n")
        return openssl("x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key,
                       "-set_serial", str(random.randrange(1, 2 ** 63)), "-days", str(days),
                       "-extfile", extfile)


def issue(ca_cert, ca_key, cn, orgs=(), usages=("clientAuth",), dns=(), ips=(), algorithm="RSA-2048", key=None):
    """A certificate signed by the CA for `key` (a new one when None): (cert_pem, key_pem)."""
    key = key or new_key(algorithm)
    cert = sign_csr(new_csr(key, cn, orgs), ca_cert, ca_key, usages, dns, ips)
    return cert, key


def new_keys(count, algorithm="RSA-2048"):
    """`count` new private keys, generated side by side (RSA generation is slow)."""
    if algorithm == "ECDSA-P256":
        args = ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
    else:
        bits = {"RSA-3072": "3072", "RSA-4096": "4096"}.get(algorithm, "2048")
        args = ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:" + bits]
    procs = [subprocess.Popen(["openssl"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(count)]
    keys = []
    for proc in procs:
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise PkiError(err.decode(errors="replace").strip())
        keys.append(out.decode())
    return keys


def self_signed_serving_cert(cn, dns=(), ips=()):
    """A self-signed serving certificate, as the kubelet, kube-controller-manager and
    kube-scheduler make for themselves when given none. Theirs have RSA 2048 keys, these
    ECDSA P-256 ones (no client checks the key's type, and none trusts the certificate):
    controller-manager and scheduler make one at every start, and RSA's prime search
    costs seconds of CPU in an emulated VM where ECDSA costs milliseconds."""
    key = new_key("ECDSA-P256")
    sans = ",".join(["DNS:" + n for n in dns] + ["IP:" + i for i in ips]) or "DNS:" + cn
    with tempfile.TemporaryDirectory() as d:
        kpath = os.path.join(d, "k")
        write_file(kpath, key, 0o600)
        cert = openssl("req", "-x509", "-new", "-key", kpath, "-subj", "/CN=" + cn, "-days", "365",
                       "-addext", "subjectAltName=" + sans,
                       "-addext", "extendedKeyUsage=serverAuth")
    return cert, key


# ---------------------------------------------------------------- kubeconfig


def b64(data):
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def unb64(text):
    return base64.b64decode(text).decode()


def kubeconfig_yaml(cluster, server, ca_pem, user, cert_pem=None, key_pem=None, token=None,
                    cert_file=None, key_file=None):
    """A kubeconfig as kubeadm writes it: one cluster, one user, context user@cluster."""
    creds = {}
    if cert_pem:
        creds = {"client-certificate-data": b64(cert_pem), "client-key-data": b64(key_pem)}
    elif cert_file:
        creds = {"client-certificate": cert_file, "client-key": key_file}
    elif token:
        creds = {"token": token}
    context = "%s@%s" % (user, cluster)
    doc = {
        "apiVersion": "v1",
        "clusters": [{"cluster": {"certificate-authority-data": b64(ca_pem), "server": server}, "name": cluster}],
        "contexts": [{"context": {"cluster": cluster, "user": user}, "name": context}],
        "current-context": context,
        "kind": "Config",
        "users": [{"name": user, "user": creds}],
    }
    return yaml.safe_dump(doc, default_flow_style=False, sort_keys=False)


class Kubeconfig:
    """The current context of a kubeconfig file: server, CA and credentials."""

    def __init__(self, path):
        self.path = path
        try:
            doc = yaml.load(read_text(path), Loader=SAFE_LOADER) or {}
        except OSError as e:
            raise PkiError("failed to load admin kubeconfig: %s" % go_open_error(path, e))
        context_name = doc.get("current-context", "")
        contexts = {c["name"]: c.get("context", {}) for c in doc.get("contexts") or []}
        context = contexts.get(context_name) or (list(contexts.values()) or [{}])[0]
        clusters = {c["name"]: c.get("cluster", {}) for c in doc.get("clusters") or []}
        users = {u["name"]: u.get("user", {}) for u in doc.get("users") or []}
        cluster = clusters.get(context.get("cluster")) or (list(clusters.values()) or [{}])[0]
        user = users.get(context.get("user")) or (list(users.values()) or [{}])[0]
        self.cluster_name = context.get("cluster", "")
        self.server = cluster.get("server", "")
        self.ca_pem = self._data(cluster, "certificate-authority")
        # A file may hold both (the kubelet's kubelet-client-current.pem): keep each part.
        cert = self._data(user, "client-certificate") or ""
        key = self._data(user, "client-key") or ""
        self.cert_pem = "".join(pem_blocks(cert, "CERTIFICATE")) or None
        keys = re.findall(r"-----BEGIN (?:RSA |EC )?PRIVATE KEY-----.*?-----END (?:RSA |EC )?PRIVATE KEY-----\n?", key, re.S)
        self.key_pem = keys[0] if keys else None
        self.token = user.get("token")
        self.cert_file = user.get("client-certificate")

    @staticmethod
    def _data(section, name):
        if section.get(name + "-data"):
            return unb64(section[name + "-data"])
        if section.get(name):
            try:
                return read_text(section[name])
            except OSError as e:
                raise PkiError("invalid kubeconfig: %s" % go_open_error(section[name], e))
        return None

    def client(self, server=None, timeout=10):
        return ApiClient(server or self.server, self.ca_pem, self.cert_pem, self.key_pem, self.token,
                         timeout=timeout)


# ---------------------------------------------------------------- TLS helpers


def client_context(ca_pem=None, cert_pem=None, key_pem=None, insecure=False):
    """A TLS client context; hostname checks are done by verify_hostname (Go's rules)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if insecure:
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.verify_mode = ssl.CERT_REQUIRED
        if ca_pem:
            ctx.load_verify_locations(cadata=ca_pem)
    if cert_pem and key_pem:
        load_pair(ctx, cert_pem, key_pem)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def load_pair(ctx, cert_pem, key_pem):
    """ssl can only load a pair from files: write them to a private temporary
    directory, load, remove."""
    d = tempfile.mkdtemp(prefix="kubewiz-standin-")
    try:
        write_file(os.path.join(d, "c"), cert_pem, 0o600)
        write_file(os.path.join(d, "k"), key_pem, 0o600)
        ctx.load_cert_chain(os.path.join(d, "c"), os.path.join(d, "k"))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def peer_cert_info(sock):
    """cert_info() of the certificate a TLS peer presented (verified or not)."""
    der = sock.getpeercert(binary_form=True)
    pem = ssl.DER_cert_to_PEM_cert(der)
    with tempfile.NamedTemporaryFile("w", suffix=".crt") as f:
        f.write(pem)
        f.flush()
        return cert_info(f.name)


# ---------------------------------------------------------------- Kubernetes API client


class ApiError(Exception):
    """A failed API call: `status` is the HTTP code (0 when no answer), `text` is what
    client-go would print."""

    def __init__(self, status, text, body=None, eof=False):
        super().__init__(text)
        self.status = status
        self.text = text
        self.body = body or {}
        # The connection was reset or closed unanswered: what client-go's
        # net.IsConnectionReset / net.IsProbableEOF recognise.
        self.eof = eof

    @property
    def reason(self):
        return self.body.get("reason", "")


GET_MAX_RETRIES = 10  # client-go rest.Request's default maxRetries


def is_probable_eof(exc):
    """client-go's net.IsConnectionReset or net.IsProbableEOF, for Python's errors: the
    peer reset the connection or closed it without an answer (a loaded haproxy does)."""
    return isinstance(exc, (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected,
                            http.client.IncompleteRead, ssl.SSLEOFError, ssl.SSLZeroReturnError))


def io_error(exc):
    """The text Go's net/http gives for a connection that failed mid-request."""
    if isinstance(exc, (http.client.RemoteDisconnected, http.client.IncompleteRead, ssl.SSLEOFError)):
        return "EOF"
    if isinstance(exc, ConnectionResetError):
        return "read: connection reset by peer"
    return str(exc)


class ApiClient:
    """client-go's REST client, reduced: JSON in and out, client certificate or bearer
    token, the server certificate verified against the cluster CA with Go's hostname
    rules, one kept-alive connection reused while it lasts."""

    def __init__(self, server, ca_pem=None, cert_pem=None, key_pem=None, token=None,
                 insecure=False, timeout=10):
        url = urllib.parse.urlsplit(server)
        self.server = server.rstrip("/")
        self.host = url.hostname or ""
        self.port = url.port or 443
        self.token = token
        self.timeout = timeout
        self.insecure = insecure
        self.ctx = client_context(ca_pem, cert_pem, key_pem, insecure)
        self._conn = None
        self._lock = threading.Lock()

    def _connect(self, where):
        """A new verified TLS connection; raises ApiError with client-go's text."""
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as e:
            raise ApiError(0, "%s: %s" % (where, dial_error(self.host, self.port, e)))
        try:
            tls = self.ctx.wrap_socket(sock, server_hostname=self.host if not parse_ip(self.host) else None)
        except (ssl.SSLError, OSError) as e:
            sock.close()
            raise ApiError(0, "%s: %s" % (where, tls_error(e)), eof=is_probable_eof(e))
        if not self.insecure:
            problem = verify_hostname(peer_cert_info(tls), self.host)
            if problem:
                tls.close()
                raise ApiError(0, "%s: tls: failed to verify certificate: %s" % (where, problem))
        conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout)
        conn.sock = tls
        return conn

    def _exchange(self, where, method, target, data, headers):
        """One request on the kept-alive connection, or on a new one when the server
        has closed it meanwhile."""
        with self._lock:
            for reused in (self._conn is not None, False):
                if self._conn is None:
                    self._conn = self._connect(where)
                try:
                    self._conn.request(method, target, body=data, headers=headers)
                    resp = self._conn.getresponse()
                    return resp, resp.read()
                except (OSError, http.client.HTTPException) as e:
                    self._conn.close()
                    self._conn = None
                    if not reused:
                        raise ApiError(0, "%s: %s" % (where, io_error(e)), eof=is_probable_eof(e))
            raise ApiError(0, "%s: connection lost" % where, eof=True)

    def request(self, method, path, body=None, content_type="application/json", accept="application/json"):
        """Returns the decoded JSON answer; raises ApiError like client-go."""
        sep = "&" if "?" in path else "?"
        target = "%s%stimeout=%ds" % (path, sep, self.timeout)
        verb = method.capitalize() if method != "DELETE" else "Delete"
        where = '%s "%s%s"' % (verb, self.server, target)
        headers = {"Accept": accept, "User-Agent": "kubewiz-standin/" + KUBERNETES_VERSION}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            headers["Content-Type"] = content_type
        retries = 0
        while True:
            try:
                resp, raw = self._exchange(where, method, target, data, headers)
                break
            except ApiError as e:
                # client-go retries a GET (never a write: not idempotent) whose
                # connection was reset or closed unanswered, after an artificial
                # "Retry-After: 1", up to maxRetries (10) times.
                if method != "GET" or not e.eof or retries >= GET_MAX_RETRIES:
                    raise
                retries += 1
                time.sleep(1)
        try:
            decoded = json.loads(raw) if raw else {}
        except ValueError:
            decoded = {"raw": raw.decode(errors="replace")}
        if resp.status >= 400:
            message = decoded.get("message") if isinstance(decoded, dict) else None
            raise ApiError(resp.status, message or raw.decode(errors="replace").strip() or resp.reason,
                           decoded if isinstance(decoded, dict) else {})
        return decoded

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, body):
        return self.request("POST", path, body)

    def put(self, path, body):
        return self.request("PUT", path, body)

    def patch(self, path, body):
        return self.request("PATCH", path, body, content_type="application/merge-patch+json")

    def delete(self, path):
        return self.request("DELETE", path)

    def get_raw(self, path):
        """GET returning the body text (for /livez, /readyz); raises ApiError."""
        return self.request("GET", path, accept="*/*")


def poll(interval, timeout, attempt):
    """k8s.io/apimachinery's wait.PollUntilContextTimeout(immediate=true): calls
    attempt() until it returns True or the timeout passes. Returns True on success."""
    deadline = time.monotonic() + timeout
    while True:
        if attempt():
            return True
        if time.monotonic() + interval > deadline:
            return False
        time.sleep(interval)


# ---------------------------------------------------------------- etcd v3 JSON gateway


class EtcdError(Exception):
    pass


class EtcdClient:
    """etcd's v3 API through its JSON gateway (POST /v3/...), over mutual TLS with the
    given client certificate, trying each endpoint in turn as etcd's Go client does."""

    def __init__(self, endpoints, ca_file=None, cert_file=None, key_file=None, timeout=5):
        self.endpoints = [e.strip() for e in endpoints if e.strip()]
        self.timeout = timeout
        self.ctx = None
        if any(e.startswith("https://") for e in self.endpoints):
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            self.ctx.check_hostname = False
            if ca_file:
                self.ctx.load_verify_locations(ca_file)
            if cert_file and key_file:
                self.ctx.load_cert_chain(cert_file, key_file)
        self._idle = {}  # endpoint -> kept-alive connections, shared by all threads
        self._lock = threading.Lock()

    def _new_connection(self, endpoint):
        url = urllib.parse.urlsplit(endpoint)
        if url.scheme == "https":
            return http.client.HTTPSConnection(url.hostname, url.port or 2379, timeout=self.timeout,
                                               context=self.ctx)
        return http.client.HTTPConnection(url.hostname, url.port or 2379, timeout=self.timeout)

    def _take(self, endpoint):
        with self._lock:
            idle = self._idle.get(endpoint)
            if idle:
                return idle.pop()
        return self._new_connection(endpoint)

    def _give_back(self, endpoint, conn):
        with self._lock:
            self._idle.setdefault(endpoint, []).append(conn)

    def call(self, path, body=None, method="POST"):
        """One gateway call on the first endpoint that answers; raises EtcdError with
        the last endpoint's failure."""
        last = "no endpoints"
        for endpoint in self.endpoints:
            for _ in range(2):  # a kept-alive connection may have been closed by etcd
                conn = self._take(endpoint)
                url = urllib.parse.urlsplit(endpoint)
                if conn.sock is None:
                    try:
                        conn.connect()
                    except ssl.SSLError as e:
                        last = "%s: %s" % (endpoint, tls_error(e))
                        break
                    except OSError as e:
                        last = "%s: %s" % (endpoint, dial_error(url.hostname, url.port or 2379, e))
                        break
                try:
                    conn.request(method, path, body=json.dumps(body or {}) if method == "POST" else None,
                                 headers={"Content-Type": "application/json"})
                    resp = conn.getresponse()
                    raw = resp.read()
                    self._give_back(endpoint, conn)
                except (TimeoutError, socket.timeout):
                    conn.close()
                    last = "%s: context deadline exceeded" % endpoint
                    break
                except (OSError, http.client.HTTPException) as e:
                    conn.close()
                    last = "%s: %s" % (endpoint, e)
                    continue
                if resp.status != 200:
                    last = "%s: %s %s" % (endpoint, resp.status, raw.decode(errors="replace").strip())
                    break
                return json.loads(raw) if raw else {}
        raise EtcdError(last)

    @staticmethod
    def _k(key):
        return b64(key)

    def get(self, key):
        """(value, mod_revision) or (None, 0)."""
        kvs = self.call("/v3/kv/range", {"key": self._k(key)}).get("kvs", [])
        if not kvs:
            return None, 0
        return unb64(kvs[0].get("value", "")), int(kvs[0]["mod_revision"])

    def list(self, prefix):
        """[(key, value, mod_revision)] and the store revision, for keys under prefix."""
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        out = self.call("/v3/kv/range", {"key": self._k(prefix), "range_end": self._k(end)})
        items = [(unb64(kv["key"]), unb64(kv.get("value", "")), int(kv["mod_revision"]))
                 for kv in out.get("kvs", [])]
        return items, int(out.get("header", {}).get("revision", 0))

    def put(self, key, value):
        out = self.call("/v3/kv/put", {"key": self._k(key), "value": b64(value)})
        return int(out.get("header", {}).get("revision", 0))

    def put_if(self, key, value, mod_revision):
        """Writes when the key's mod_revision is `mod_revision` (0: the key must not
        exist). Returns the new revision, or None when the compare failed."""
        target = {"key": self._k(key), "target": "MOD", "mod_revision": str(mod_revision), "result": "EQUAL"}
        if mod_revision == 0:
            target = {"key": self._k(key), "target": "CREATE", "create_revision": "0", "result": "EQUAL"}
        out = self.call("/v3/kv/txn", {"compare": [target],
                                       "success": [{"request_put": {"key": self._k(key), "value": b64(value)}}]})
        if not out.get("succeeded"):
            return None
        return int(out.get("header", {}).get("revision", 0))

    def delete(self, key):
        out = self.call("/v3/kv/deleterange", {"key": self._k(key)})
        return int(out.get("deleted", 0))

    def members(self):
        return self.call("/v3/cluster/member/list", {}).get("members", [])

    def member_add(self, peer_urls, learner=False):
        body = {"peerURLs": peer_urls}
        if learner:
            body["isLearner"] = True
        return self.call("/v3/cluster/member/add", body)

    def member_promote(self, member_id):
        return self.call("/v3/cluster/member/promote", {"ID": member_id})

    def member_remove(self, member_id):
        return self.call("/v3/cluster/member/remove", {"ID": member_id})

    def version(self, endpoint):
        """GET <endpoint>/version on one endpoint, as kubeadm's preflight does it with
        Go's HTTP client; failures read like Go's."""
        url = urllib.parse.urlsplit(endpoint)
        where = 'Get "%s/version"' % endpoint.rstrip("/")
        conn = self._new_connection(endpoint)
        try:
            conn.sock = socket.create_connection((url.hostname, url.port or 2379), timeout=self.timeout)
        except OSError as e:
            raise EtcdError("%s: %s" % (where, dial_error(url.hostname, url.port or 2379, e)))
        try:
            if self.ctx is not None:
                conn.sock = self.ctx.wrap_socket(conn.sock)
            conn.request("GET", "/version")
            resp = conn.getresponse()
            return json.loads(resp.read())
        except ssl.SSLError as e:
            raise EtcdError("%s: %s" % (where, tls_error(e)))
        except (TimeoutError, socket.timeout):
            raise EtcdError("%s: context deadline exceeded (Client.Timeout exceeded while awaiting headers)" % where)
        except (OSError, ValueError, http.client.HTTPException) as e:
            raise EtcdError("%s: %s" % (where, e))
        finally:
            conn.close()


# ---------------------------------------------------------------- CRI (containerd's socket)

# A gRPC server is an HTTP/2 server: it answers a client's connection preface with a
# SETTINGS frame. The stand-in containerd does exactly that, and, like containerd with
# its CRI plugin disabled, adds a GOAWAY frame naming the missing service.
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
H2_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
CRI_UNIMPLEMENTED = b"unknown service runtime.v1.RuntimeService"


def socket_path(endpoint):
    return endpoint[len("unix://"):] if endpoint.startswith("unix://") else endpoint


def cri_status(endpoint, timeout=2):
    """None when a CRI runtime answers on `endpoint` (unix:///path), else the error text
    kubeadm and the kubelet print for it (gRPC's wording)."""
    path = socket_path(endpoint)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(H2_PREFACE + H2_SETTINGS)
        reply = b""
        while len(reply) < 9:
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
        try:
            s.settimeout(0.2)
            reply += s.recv(4096)
        except OSError:
            pass
    except FileNotFoundError:
        return ('rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: '
                'dial unix %s: connect: no such file or directory"' % path)
    except ConnectionRefusedError:
        return ('rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: '
                'dial unix %s: connect: connection refused"' % path)
    except OSError as e:
        return 'rpc error: code = Unavailable desc = connection error: desc = "transport: %s"' % e
    finally:
        s.close()
    if len(reply) < 9 or reply[3] != 0x04:
        return 'rpc error: code = Unavailable desc = connection error: desc = "error reading server preface: EOF"'
    if CRI_UNIMPLEMENTED in reply:
        return "rpc error: code = Unimplemented desc = " + CRI_UNIMPLEMENTED.decode()
    return None


# ---------------------------------------------------------------- misc


def port_in_use(port):
    """kubeadm's PortOpenCheck: can we listen on ":port" (every address, IPv4 and IPv6
    as Go's net.Listen does)? Go sets SO_REUSEADDR on every listener, so connections of
    an earlier server left in TIME_WAIT do not count as the port being in use."""
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        address = ("::", port)
    except OSError:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        address = ("", port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(address)
        s.listen(1)
        return False
    except OSError:
        return True
    finally:
        s.close()


def swap_on():
    """True when /proc/swaps lists a swap area (kubeadm's and the kubelet's test)."""
    try:
        with open("/proc/swaps") as f:
            return len(f.read().strip().splitlines()) > 1
    except OSError:
        return False


def host_ips():
    """The host's global addresses (like the kubelet's node IP detection)."""
    out = subprocess.run(["ip", "-o", "addr", "show", "scope", "global"], capture_output=True, text=True)
    ips = []
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) > 3 and parts[2] in ("inet", "inet6"):
            ips.append(parts[3].split("/")[0])
    return ips


def sd_notify(state):
    """systemd's sd_notify: one datagram to $NOTIFY_SOCKET (a path, or @ for the
    abstract namespace); nothing when the service manager did not ask."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.connect(path)
        s.send(state.encode())
    except OSError:
        pass
    finally:
        s.close()


def now_rfc3339(offset=0):
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()


def human_duration(seconds):
    """k8s.io/apimachinery's duration.HumanDuration, as kubectl's AGE column shows it."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return "%ds" % s
    minutes = s // 60
    if minutes < 10:
        return "%dm%ds" % (minutes, s % 60) if s % 60 else "%dm" % minutes
    if minutes < 180:
        return "%dm" % minutes
    hours = s // 3600
    if hours < 8:
        return "%dh%dm" % (hours, minutes % 60) if minutes % 60 else "%dh" % hours
    if hours < 48:
        return "%dh" % hours
    if hours < 24 * 8:
        return "%dd%dh" % (hours // 24, hours % 24) if hours % 24 else "%dd" % (hours // 24)
    if hours < 24 * 365 * 2:
        return "%dd" % (hours // 24)
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return "%dy%dd" % (hours // 24 // 365, days) if days else "%dy" % (hours // 24 // 365)
    return "%dy" % (hours // 24 // 365)


def jws_detached(content, token_id, token_secret):
    """k8s.io/cluster-bootstrap/token/jws.ComputeDetachedSignature: an HS256 JWS over
    `content` keyed by the token secret, with the payload cut out ("header..sig")."""
    def enc(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    header = enc(json.dumps({"alg": "HS256", "kid": token_id}, separators=(",", ":")).encode())
    payload = enc(content.encode())
    sig = hmac.new(token_secret.encode(), ("%s.%s" % (header, payload)).encode(), hashlib.sha256).digest()
    return "%s..%s" % (header, enc(sig))


BOOTSTRAP_TOKEN = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")


def tabwrite(rows, gap=3):
    """Go's text/tabwriter as kubectl and kubeadm use it: columns padded to the widest
    cell plus `gap` spaces."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))] if rows else []
    lines = []
    for r in rows:
        cells = [c.ljust(widths[i] + gap) if i < len(r) - 1 else c for i, c in enumerate(r)]
        lines.append("".join(cells).rstrip())
    return "\n".join(lines)


# ---------------------------------------------------------------- control-plane components


def parse_component_flags(argv, known):
    """pflag parsing for the control-plane stand-ins: --name=value or --name value;
    an unknown flag is an error ("Error: unknown flag: --x", exit status 1)."""
    flags, i = {}, 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if name not in known:
                sys.stderr.write("Error: unknown flag: --%s\n" % name)
                sys.exit(1)
            if not eq:
                if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                    value, i = argv[i + 1], i + 1
                else:
                    value = "true"
            flags[name] = value
        i += 1
    return flags


def serve_health(bind, port, name):
    """The secure health endpoint kube-controller-manager and kube-scheduler serve
    (/healthz, /livez, /readyz need no credentials there), with the self-signed
    certificate they make when given none. Exits like them when the port is taken."""
    import http.server

    class Health(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            path = self.path.split("?")[0]
            ok = path in ("/healthz", "/livez", "/readyz") or path.startswith(("/healthz/", "/livez/", "/readyz/"))
            body = b"ok" if ok else b'{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}'
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    cert, key = self_signed_serving_cert("%s@%d" % (bind, int(time.time())), dns=["localhost"], ips=[bind])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    load_pair(ctx, cert, key)

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def get_request(self):
            sock, addr = self.socket.accept()
            return ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

        def handle_error(self, request, client_address):
            pass

    try:
        server = Server((bind, port), Health)
    except OSError as e:
        klog("E", "run.go:72", '"command failed" err="failed to create listener: failed to listen on %s:%d: '
             'listen tcp %s:%d: bind: %s"' % (bind, port, bind, port, (e.strerror or str(e)).lower()))
        sys.exit(1)
    klog("I", "secure_serving.go:213", "Serving securely on %s:%d" % (bind, port))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# ---------------------------------------------------------------- static Pods (the "containers")

# The kubelet stand-in runs each static Pod's container as a host process in its own
# session, so it outlives a kubelet restart as a container outlives it under containerd.
# This directory is the runtime's record of them (what `crictl ps` would list).
POD_STATE_DIR = STANDIN_STATE + "/pods"


def pod_states():
    """{pod full name: state dict} of the recorded static Pod processes."""
    out = {}
    try:
        names = os.listdir(POD_STATE_DIR)
    except FileNotFoundError:
        return out
    for name in names:
        if name.endswith(".json"):
            try:
                with open(os.path.join(POD_STATE_DIR, name)) as f:
                    out[name[:-5]] = json.load(f)
            except (OSError, ValueError):
                pass
    return out


def save_pod_state(name, state):
    write_file(os.path.join(POD_STATE_DIR, name + ".json"), json.dumps(state), 0o600)


def forget_pod_state(name):
    try:
        os.unlink(os.path.join(POD_STATE_DIR, name + ".json"))
    except FileNotFoundError:
        pass


def process_alive(pid, marker=None):
    """True when `pid` runs (not a zombie) and, with `marker`, carries it in its
    environment (so a reused pid is not mistaken for the container)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
        if marker:
            with open("/proc/%d/environ" % pid, "rb") as f:
                return ("KUBEWIZ_STANDIN_POD=" + marker).encode() in f.read().split(b"\0")
        return True
    except (OSError, IndexError):
        return False


def kill_process_group(pid, marker=None, grace=10):
    """SIGTERM to the container's process group, SIGKILL after `grace` seconds; at once
    with a grace of 0."""
    import signal
    if not process_alive(pid, marker):
        return
    try:
        os.killpg(pid, signal.SIGTERM if grace > 0 else signal.SIGKILL)
    except OSError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def remove_all_pods():
    """What `kubeadm reset` asks the runtime for: stop and remove every Kubernetes
    container. containerd stops a Pod's sandbox with a timeout of 0: SIGKILL at once."""
    for name, state in pod_states().items():
        if state.get("pid"):
            kill_process_group(state["pid"], state.get("marker"), grace=0)
        forget_pod_state(name)
