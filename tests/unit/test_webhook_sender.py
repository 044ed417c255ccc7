"""The sender dials only addresses it has just checked: a name is resolved once per connection,
so a DNS answer that changes after the check (rebinding) cannot reach an internal address; TLS
still verifies the certificate against the name. Real sockets, a real receiver, and a resolver
the test controls."""

from __future__ import annotations

import datetime
import http.server
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from modelyard.delivery.requests import OutgoingRequest
from modelyard.delivery.sender import Sender
from modelyard.delivery.ssrf import parse_networks
from tests.receivers import Receiver

LOOPBACK_ONLY = parse_networks("127.0.0.1/32")
_real_getaddrinfo = socket.getaddrinfo


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, list[str]], list[str]]:
    """``answer(name, [first, then, ...])``: each lookup of ``name`` gets the next address (the
    last one repeats); returns the list of addresses handed out so far."""
    answers: dict[str, list[str]] = {}
    given: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in answers:
            return _real_getaddrinfo(host, port, *args, **kwargs)
        queue = answers[host]
        address = queue.pop(0) if len(queue) > 1 else queue[0]
        given.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    def answer(name: str, addresses: list[str]) -> list[str]:
        answers[name] = list(addresses)
        return given

    return answer


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


def _post(sender: Sender, url: str) -> Any:
    return sender.send(OutgoingRequest(url, b'{"event": 1}', {"Content-Type": "application/json"}))


def test_a_name_that_rebinds_after_the_check_is_still_sent_where_it_was_checked(
    resolver: Callable[[str, list[str]], list[str]], receiver: Receiver
) -> None:
    # Checked at 127.0.0.1 (allowed here); every later answer names an internal address.
    given = resolver("hooks.example", ["127.0.0.1", "10.255.255.1"])
    port = int(receiver.url.rsplit(":", 1)[1])
    sender = Sender(5, LOOPBACK_ONLY)
    try:
        outcome = _post(sender, f"http://hooks.example:{port}/hook")
    finally:
        sender.close()
    assert outcome.status_code == 200 and outcome.error is None
    assert given == ["127.0.0.1"]  # one resolution: the one that was checked
    (got,) = receiver.requests
    assert got.headers["Host"] == f"hooks.example:{port}" and got.path == "/hook"


def test_a_name_that_answers_an_internal_address_is_refused_for_good(
    resolver: Callable[[str, list[str]], list[str]], receiver: Receiver
) -> None:
    resolver("metadata.example", ["169.254.169.254"])
    sender = Sender(5, LOOPBACK_ONLY)
    try:
        outcome = _post(sender, "http://metadata.example/latest/meta-data/")
    finally:
        sender.close()
    assert outcome.status_code is None and outcome.permanent
    assert "internal address 169.254.169.254" in (outcome.error or "")
    assert "MODELYARD_WEBHOOK_ALLOWED_NETWORKS" in (outcome.error or "")


def test_a_name_that_does_not_resolve_is_tried_again_later() -> None:
    sender = Sender(5, LOOPBACK_ONLY)
    try:
        outcome = _post(sender, "http://no-such-host.invalid/hook")
    finally:
        sender.close()
    assert outcome.status_code is None and not outcome.permanent
    assert "does not resolve" in (outcome.error or "")


def _certificate(directory: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[tuple[int, list[dict[str, str]], Path]]:
    """An HTTPS receiver on 127.0.0.1 whose certificate names ``hooks.example``."""
    cert, key = _certificate(tmp_path, "hooks.example")
    seen: list[dict[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append(dict(self.headers.items()))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1]), seen, cert
    finally:
        server.shutdown()
        server.server_close()


def test_tls_is_verified_against_the_name_not_the_address(
    resolver: Callable[[str, list[str]], list[str]],
    tls_receiver: tuple[int, list[dict[str, str]], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, seen, cert = tls_receiver
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the receiver's own certificate
    resolver("hooks.example", ["127.0.0.1", "10.255.255.1"])
    resolver("impostor.example", ["127.0.0.1"])
    sender = Sender(5, LOOPBACK_ONLY)
    try:
        good = _post(sender, f"https://hooks.example:{port}/hook")
        # Same address, a name the certificate does not carry: refused by TLS, retried later.
        impostor = _post(sender, f"https://impostor.example:{port}/hook")
    finally:
        sender.close()
    assert good.status_code == 200 and good.error is None
    assert [h["Host"] for h in seen] == [f"hooks.example:{port}"]
    assert impostor.status_code is None and not impostor.permanent
    assert "CERTIFICATE_VERIFY_FAILED" in (impostor.error or "")


def test_a_receiver_that_trickles_its_answer_is_cut_off_at_the_attempts_deadline() -> None:
    # One byte every 0.3 s: each read is well within the 1 s timeout, the whole never ends.
    class Trickle(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            try:
                for _ in range(1000):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.3)
            except OSError:  # the sender hung up
                pass

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sender = Sender(1, LOOPBACK_ONLY, attempt_deadline_s=1.5)
    try:
        outcome = _post(sender, f"http://127.0.0.1:{server.server_address[1]}/hook")
    finally:
        sender.close()
        server.shutdown()
        server.server_close()
    assert outcome.status_code is None and not outcome.permanent
    assert outcome.error == "timed out: ReadTimeout"  # without the deadline: 200, in 5 minutes


def test_an_international_host_name_goes_out_in_idna(
    resolver: Callable[[str, list[str]], list[str]], receiver: Receiver
) -> None:
    given = resolver("xn--bcher-kva.example", ["127.0.0.1"])
    port = int(receiver.url.rsplit(":", 1)[1])
    sender = Sender(5, LOOPBACK_ONLY)
    try:
        outcome = _post(sender, f"http://bücher.example:{port}/hook")
        unsendable = sender.send(
            OutgoingRequest(f"http://bücher.example:{port}/hook", b"{}", {"X-Name": "модель"})
        )
    finally:
        sender.close()
    assert outcome.status_code == 200 and given == ["127.0.0.1"]
    assert receiver.requests[0].headers["Host"] == f"xn--bcher-kva.example:{port}"
    assert unsendable.permanent and "cannot send this request" in (unsendable.error or "")
