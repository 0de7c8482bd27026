"""A throwaway CA with a server and a client certificate, made by openssl, for the TLS tests."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass


@dataclass(frozen=True)
class Certs:
    dir: str
    ca: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str


def _run(*args: str, cwd: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _signed(cwd: str, ca: str, name: str, subject: str, extensions: str) -> None:
    _run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", f"{name}-key.pem",
         "-out", f"{name}.csr", "-subj", subject, cwd=cwd)
    with open(os.path.join(cwd, f"{name}.ext"), "w") as f:
        f.write(extensions)
    _run("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}-key.pem", "-CAcreateserial",
         "-out", f"{name}-cert.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=cwd)


def make_certs(directory: str, ca_name: str = "ca") -> Certs:
    """CA ``ca.pem``; ``server-cert.pem`` for 127.0.0.1/localhost; ``client-cert.pem`` (clientAuth)."""
    os.makedirs(directory, exist_ok=True)
    _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", f"{ca_name}-key.pem", "-out", f"{ca_name}.pem", "-days", "2", "-subj", f"/CN=pouch test {ca_name}",
         cwd=directory)
    _signed(directory, ca_name, "server", "/CN=localhost",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    _signed(directory, ca_name, "client", "/CN=pouch-client", "extendedKeyUsage=clientAuth\n")
    p = lambda name: os.path.join(directory, name)  # noqa: E731
    return Certs(directory, p(f"{ca_name}.pem"), p("server-cert.pem"), p("server-key.pem"), p("client-cert.pem"),
                 p("client-key.pem"))
