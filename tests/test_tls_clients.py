"""Other unmodified OpenSSL programs with TEE keys: curl with a TEE-held
CLIENT key (mutual TLS against nginx), and Python's ssl module with a TEE
key as a server (load_cert_chain(cert, reference.pem)) and as a client.
"""
from __future__ import annotations

import os
import ssl
import subprocess
import sys
import textwrap

import pytest

import tlsutil
from tlsutil import dev_ca, shared_dir, tee_keys, tls_sim  # noqa: F401 (fixtures)

BODY = "mutual TLS ok\n"


@pytest.fixture(scope="module")
def mtls_nginx(shared_dir, dev_ca):
    """nginx with an ordinary software server key that requires a client
    certificate from the dev CA; /whoami echoes the client's subject."""
    skey, scert = dev_ca.issue_software(shared_dir / "mtls", "mtls-server")
    prefix = shared_dir / "mtls-nginx"
    prefix.mkdir(parents=True, exist_ok=True)
    os.chmod(prefix, 0o755)
    port = tlsutil.free_port()
    conf = tlsutil.render_nginx_conf(
        prefix, port, scert, skey, workers=1, html=BODY,
        server_extra=f"ssl_client_certificate {dev_ca.cert_path};\n"
                     "ssl_verify_client on;")
    ngx = tlsutil.Nginx(prefix, conf, port, tlsutil.client_env())
    ngx.start()
    yield ngx
    ngx.stop()


@pytest.fixture(scope="module")
def client_id(tee_keys):
    return tee_keys.get("p256", label="client-p256", client=True, server=False,
                        cn="tee-client")


def test_mtls_requires_client_cert(mtls_nginx, dev_ca):
    r = tlsutil.curl(f"https://localhost:{mtls_nginx.port}/whoami", dev_ca.cert_path,
                     extra=["--resolve", f"localhost:{mtls_nginx.port}:127.0.0.1"])
    assert r.returncode != 0 or "400" in r.stdout  # nginx: 400 No cert


@pytest.mark.parametrize("key_type", ["p256", "rsa2048", "ed25519"])
def test_curl_client_key_reference(mtls_nginx, tls_sim, tee_keys, dev_ca, key_type):
    """curl --key reference.pem: curl (OpenSSL flavour) reads the key with
    PEM routines; our decoder turns the reference into a TEE key."""
    ident = tee_keys.get(key_type, label=f"client-{key_type}", client=True,
                         server=False, cn=f"tee-client-{key_type}")
    before = tls_sim.stats()
    r = tlsutil.curl(f"https://localhost:{mtls_nginx.port}/whoami", dev_ca.cert_path,
                     env=tls_sim.env,
                     extra=["--resolve", f"localhost:{mtls_nginx.port}:127.0.0.1",
                            "--cert", str(ident.cert), "--key", str(ident.ref)])
    after = tls_sim.stats()
    assert r.returncode == 0, r.stderr + mtls_nginx.errors()[-2000:]
    assert f"CN=tee-client-{key_type}" in r.stdout
    assert "verify=SUCCESS" in r.stdout
    print(f"curl client {key_type}: {after['ta_invocations'] - before['ta_invocations']}"
          f" TA invocations, {after['sessions_opened'] - before['sessions_opened']}"
          " sessions per curl run")
    # one look-up when curl loads the reference + exactly one signature
    # (CertificateVerify) for the handshake, in one TA session
    assert after["ta_invocations"] - before["ta_invocations"] == 2
    assert after["sessions_opened"] - before["sessions_opened"] == 1


def test_curl_client_key_uri(mtls_nginx, tls_sim, client_id, dev_ca):
    """curl --key optee:LABEL: curl 7.88 opens --key as a file (PEM/DER) or
    through an ENGINE, never through OSSL_STORE: expected to fail cleanly."""
    r = tlsutil.curl(f"https://localhost:{mtls_nginx.port}/whoami", dev_ca.cert_path,
                     env=tls_sim.env,
                     extra=["--resolve", f"localhost:{mtls_nginx.port}:127.0.0.1",
                            "--cert", str(client_id.cert), "--key", client_id.uri])
    print("curl --key optee:LABEL ->", r.returncode, r.stderr.strip())
    # curl 7.88 (Debian 12): "(58) unable to set private key file:
    # 'optee:LABEL' type PEM". Newer curls may learn provider URIs.
    if r.returncode == 0:
        assert "CN=tee-client" in r.stdout
    else:
        assert r.returncode == 58 and "private key" in r.stderr, r.stderr


def test_curl_client_key_engine(mtls_nginx, tls_sim, client_id, dev_ca):
    """curl --engine optee --key-type ENG --key LABEL."""
    tlsutil.require_engine()
    env = dict(tls_sim.env)
    env.pop("OPENSSL_CONF", None)
    r = tlsutil.curl(f"https://localhost:{mtls_nginx.port}/whoami", dev_ca.cert_path,
                     env=env,
                     extra=["--resolve", f"localhost:{mtls_nginx.port}:127.0.0.1",
                            "--engine", "optee", "--key-type", "ENG",
                            "--cert", str(client_id.cert), "--key", client_id.label])
    assert r.returncode == 0, r.stderr
    assert "CN=tee-client" in r.stdout


PY_CLIENT = textwrap.dedent("""
    import socket, ssl, sys
    port, ca, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"GET /whoami HTTP/1.1\\r\\nHost: localhost\\r\\n"
                      b"Connection: close\\r\\n\\r\\n")
            data = b""
            while True:
                b = s.recv(4096)
                if not b:
                    break
                data += b
    sys.stdout.write(data.decode())
""")


def test_python_ssl_client_key_reference(mtls_nginx, tls_sim, client_id, dev_ca):
    p = tls_sim.run([sys.executable, "-c", PY_CLIENT, str(mtls_nginx.port),
                     str(dev_ca.cert_path), str(client_id.cert), str(client_id.ref)],
                    check=False, text=True)
    assert p.returncode == 0, p.stderr
    assert "CN=tee-client" in p.stdout and "verify=SUCCESS" in p.stdout


# ---- Python's ssl as a server ------------------------------------------------

PY_SERVER = textwrap.dedent("""
    import socket, ssl, sys
    cert, key, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    srv = socket.create_server(("127.0.0.1", port))
    print("READY", flush=True)
    while True:
        conn, _ = srv.accept()
        try:
            with ctx.wrap_socket(conn, server_side=True) as s:
                req = s.recv(4096)
                body = b"python ssl with a TEE key\\n"
                s.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\n"
                          b"Connection: close\\r\\n\\r\\n" % len(body) + body)
        except (ssl.SSLError, OSError) as e:
            print("handshake error:", e, flush=True)
""")


@pytest.mark.parametrize("key_type", ["p256", "rsa2048", "ed25519"])
def test_python_ssl_server(tls_sim, tee_keys, dev_ca, shared_dir, key_type):
    ident = tee_keys.get(key_type)
    port = tlsutil.free_port()
    log = shared_dir / f"pyserver-{key_type}.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen([sys.executable, "-c", PY_SERVER, str(ident.cert),
                                 str(ident.ref), str(port)], env=tls_sim.env,
                                stdin=subprocess.DEVNULL, stdout=f,
                                stderr=subprocess.STDOUT)
    srv = tlsutil.Server(proc, port, log)
    try:
        tlsutil.wait_for_port(port, proc, log=log)
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = ssl.create_default_context(cafile=str(dev_ca.cert_path))
            ctx.minimum_version = ctx.maximum_version = version
            before = tls_sim.stats()
            status, body, got = tlsutil.https_get(port, dev_ca.cert_path, context=ctx)
            after = tls_sim.stats()
            assert status == 200 and body == b"python ssl with a TEE key\n"
            assert got == version.name.replace("TLSv1_", "TLSv1.")
            assert after["ta_invocations"] - before["ta_invocations"] == 1
    finally:
        srv.stop()
    print(srv.output())


def test_s_server_s_client_both_keys_in_tee(tls_sim, tee_keys, client_id, dev_ca,
                                            shared_dir):
    """Mutual TLS with openssl s_server -Verify (server key in the TEE) and
    openssl s_client -key optee:LABEL (client key in the TEE, through the
    provider's store): one signature on each side per handshake."""
    server = tee_keys.get("p384")
    srv = tlsutil.start_s_server(tls_sim.env, server.cert, server.ref, shared_dir,
                                 extra=["-Verify", "1", "-CAfile",
                                        str(dev_ca.cert_path),
                                        "-verify_return_error"],
                                 name="s_server-mtls")
    try:
        for version in ("1.2", "1.3"):
            before = tls_sim.stats()
            h = tlsutil.s_client(srv.port, dev_ca.cert_path, version=version,
                                 env=tls_sim.env, cert=client_id.cert,
                                 key=client_id.uri)
            after = tls_sim.stats()
            assert h.ok, h.output + srv.output()[-2000:]
            # client: key look-up + CertificateVerify; server: its signature
            assert after["ta_invocations"] - before["ta_invocations"] == 3
        assert "CN = tee-client" in srv.output() or "CN=tee-client" in srv.output()
    finally:
        srv.stop()


# ---- many threads in one server process ---------------------------------------

PY_THREADED_SERVER = textwrap.dedent("""
    import http.server, ssl, sys
    cert, key, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def do_GET(self):
            body = b"threaded python ssl with a TEE key\\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a):
            pass

    class S(http.server.ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128
        def get_request(self):
            conn, addr = self.socket.accept()
            # the handshake happens in the handler's thread, on first read
            return ctx.wrap_socket(conn, server_side=True,
                                   do_handshake_on_connect=False), addr
        def handle_error(self, request, client_address):
            print("handler error", sys.exc_info()[1], flush=True)

    S(("127.0.0.1", port), H).serve_forever()
""")


@pytest.mark.parametrize("pool", [None, "1", "8"], ids=lambda p: f"sessions-{p or 'default'}")
def test_threaded_server_session_pool(tls_sim, tee_keys, dev_ca, shared_dir, pool):
    """One server process signing from many threads at once (Python's ssl
    releases the GIL during the handshake): every handshake succeeds, one
    TA invocation each, over at most OPTEE_TLS_SESSIONS (default 4) TA
    sessions of that process."""
    import concurrent.futures

    ident = tee_keys.get("p256")
    port = tlsutil.free_port()
    log = shared_dir / f"pythreaded-{pool}.log"
    env = dict(tls_sim.env)
    if pool:
        env["OPTEE_TLS_SESSIONS"] = pool
    limit = int(pool or 4)
    start = tls_sim.stats()
    with open(log, "wb") as f:
        proc = subprocess.Popen([sys.executable, "-c", PY_THREADED_SERVER,
                                 str(ident.cert), str(ident.ref), str(port)],
                                env=env, stdin=subprocess.DEVNULL,
                                stdout=f, stderr=subprocess.STDOUT)
    srv = tlsutil.Server(proc, port, log)
    try:
        tlsutil.wait_for_port(port, proc, log=log)
        before = tls_sim.stats()
        with concurrent.futures.ThreadPoolExecutor(32) as ex:
            res = list(ex.map(lambda _: tlsutil.https_get(port, dev_ca.cert_path),
                              range(200)))
        after = tls_sim.stats()
        assert all(s == 200 and b == b"threaded python ssl with a TEE key\n"
                   for s, b, _ in res)
        assert after["ta_invocations"] - before["ta_invocations"] == 200
        sessions = after["sessions_opened"] - start["sessions_opened"]
        print(f"OPTEE_TLS_SESSIONS={pool}: {sessions} sessions for 200 "
              "concurrent handshakes in one process")
        assert 1 <= sessions <= limit
        if limit == 1:
            assert sessions == 1
        assert after["panics"] == before["panics"]
    finally:
        srv.stop()
    assert "handler error" not in srv.output(), srv.output()
