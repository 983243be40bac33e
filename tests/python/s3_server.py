"""S3-protocol servers on loopback for the object-storage tests: moto in server mode (with
signature checks on), a server that accepts connections and never answers, and a proxy in
front of moto that can stall in the middle of a response."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

try:
    import boto3
    from moto.server import ThreadedMotoServer
except ImportError as e:  # `make test` installs them (PY_TEST_DEPS)
    raise ImportError(
        f"the object-storage tests need moto[server] and boto3 ({e}); run `make test`, or "
        "`.venv/bin/python -m pip install 'moto[server]' boto3`"
    ) from e

REGION = "us-east-1"
# moto creates IAM access keys itself; the bootstrap key only signs the set-up requests,
# which moto lets through before authentication is switched on.
BOOTSTRAP_KEY = ("AKIABOOTSTRAPBOOTSTRP", "bootstrap-secret")


@dataclass
class Moto:
    """moto's S3 on 127.0.0.1, every request's signature checked against an IAM key."""

    server: ThreadedMotoServer
    endpoint: str
    access_key: str
    secret_key: str

    def env(self, endpoint: str | None = None, secret_key: str | None = None) -> dict[str, str]:
        """The `AWS_*` environment a front door reads (another endpoint or secret if given)."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key or self.secret_key,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT": endpoint or self.endpoint,
            "AWS_ALLOW_HTTP": "true",
        }

    def stop(self) -> None:
        self.server.stop()


def start_moto(bucket: str, data: Path) -> Moto:
    """Start moto on a free port, create `bucket` holding every file below `data` (same
    relative paths), an IAM user allowed `s3:*`, then switch authentication on."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # Authentication off while setting up (moto's default), whatever an earlier test left.
    _reset_auth(endpoint, "inf")
    session = boto3.session.Session(
        aws_access_key_id=BOOTSTRAP_KEY[0], aws_secret_access_key=BOOTSTRAP_KEY[1], region_name=REGION
    )
    iam = session.client("iam", endpoint_url=endpoint)
    iam.create_user(UserName="canary")
    iam.put_user_policy(
        UserName="canary",
        PolicyName="s3",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        ),
    )
    key = iam.create_access_key(UserName="canary")["AccessKey"]
    s3 = session.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=bucket)
    for path in sorted(p for p in data.rglob("*") if p.is_file()):
        s3.upload_file(str(path), bucket, path.relative_to(data).as_posix())
    _reset_auth(endpoint, "0")
    return Moto(server, endpoint, key["AccessKeyId"], key["SecretAccessKey"])


def _reset_auth(endpoint: str, count: str) -> None:
    """moto's switch: authenticate every request after `count` more (`inf`: never)."""
    host, port = endpoint.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("POST", "/moto-api/reset-auth", body=count.encode())
    response = conn.getresponse()
    response.read()
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"moto refused reset-auth: {response.status}")


# --- Servers that stop answering -----------------------------------------------------


class _Listener:
    """A TCP listener on 127.0.0.1 (a free port) that hands each connection to `serve` on
    its own thread; `stop` closes every connection."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.stopped = threading.Event()
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.stopped.set()
        self.sock.close()
        with self.lock:
            for conn in self.connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()


class SilentServer(_Listener):
    """Accepts connections, reads what comes and never answers."""

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while not self.stopped.is_set() and conn.recv(65536):
                pass


@dataclass
class Request:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class Logged:
    method: str
    path: str
    range: str | None
    stalled: bool


@dataclass
class _Log:
    entries: list[Logged] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, entry: Logged) -> None:
        with self.lock:
            self.entries.append(entry)


class StallingProxy(_Listener):
    """An HTTP/1.1 proxy in front of moto. Every request is forwarded as it came (the
    signature covers the Host header, which is kept); a response for which `stall(request)`
    is true is sent with its headers and `fraction` of its body, then nothing more: the
    connection stays open and silent until the proxy stops. `stall` sees the request and
    the headers of moto's response (`Content-Range` tells which part of how large an
    object)."""

    def __init__(
        self, upstream: str, stall: Callable[[Request, list[tuple[str, str]]], bool], fraction: float = 0.5
    ) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.stall = stall
        self.fraction = fraction
        self.log = _Log()
        super().__init__()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            while not self.stopped.is_set():
                request = _read_request(reader)
                if request is None:
                    return
                status, reason, headers, body = self._forward(request)
                stall = request.method == "GET" and self.stall(request, headers)
                self.log.add(Logged(request.method, request.path, _header(request.headers, "range"), stall))
                head = [f"HTTP/1.1 {status} {reason}"]
                head += [f"{k}: {v}" for k, v in headers if k.lower() not in ("transfer-encoding", "connection")]
                if request.method != "HEAD" and _header(headers, "content-length") is None:
                    head.append(f"Content-Length: {len(body)}")
                conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
                if request.method == "HEAD":
                    continue
                if stall:
                    conn.sendall(body[: int(len(body) * self.fraction)])
                    self.stopped.wait()
                    return
                conn.sendall(body)
        except OSError:
            return
        finally:
            reader.close()

    def _forward(self, request: Request) -> tuple[int, str, list[tuple[str, str]], bytes]:
        upstream = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            upstream.putrequest(request.method, request.path, skip_host=True, skip_accept_encoding=True)
            for k, v in request.headers:
                upstream.putheader(k, v)
            upstream.endheaders(request.body or None)
            response = upstream.getresponse()
            body = response.read()
            return response.status, response.reason, response.getheaders(), body
        finally:
            upstream.close()


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


def _read_request(reader: BinaryIO) -> Request | None:
    line = reader.readline()
    if not line:
        return None
    method, path, _ = line.decode("latin-1").split(" ", 2)
    headers = []
    while (line := reader.readline()) not in (b"\r\n", b"\n", b""):
        k, v = line.decode("latin-1").split(":", 1)
        headers.append((k.strip(), v.strip()))
    length = int(_header(headers, "content-length") or 0)
    return Request(method, path, headers, reader.read(length) if length else b"")
