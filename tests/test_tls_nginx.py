"""nginx (Debian's package, unmodified) serving HTTPS with a TEE-held key:
through the optee provider with a PEM key reference, and through the optee
ENGINE (`engine:optee:LABEL`); several workers (fork safety), concurrent
handshakes, a simulator restart and a TA panic under a running nginx, and
the errors a user sees when something is wrong.
"""
from __future__ import annotations

import concurrent.futures
import os
import tempfile
from pathlib import Path

import pytest

import tlsutil
from conftest import IS_ROOT, stop_all
from tlsutil import dev_ca, shared_dir, tee_keys, tls_sim  # noqa: F401 (fixtures)

# What nginx must pass to its workers (it clears their environment except
# TZ): on a device only OPENSSL_CONF matters, if at all; with the simulator
# the socket path, and the in-tree library/module paths.
PROVIDER_ENV = ["OPENSSL_CONF", "OPENSSL_MODULES", "OPTEE_SIM_SOCKET",
                "LD_LIBRARY_PATH"]
ENGINE_ENV = ["OPENSSL_ENGINES", "OPTEE_SIM_SOCKET", "LD_LIBRARY_PATH"]
BODY = "hello from a key in the TEE\n"


ENGINE_INITS = ["ssl_engine", "openssl.cnf"]


def engine_setup(sim, directory: Path, init: str) -> tuple[dict, str | None]:
    """Environment (no provider configured) and ssl_engine value for nginx
    with the ENGINE initialised either by `ssl_engine optee;` or by an
    openssl.cnf engine section with init = 1."""
    env = dict(sim.env)
    env.pop("OPENSSL_CONF", None)
    if init == "openssl.cnf":
        cnf = tlsutil.write_engine_cnf(directory / "openssl-engine.cnf")
        env["OPENSSL_CONF"] = str(cnf)
        return env, None
    return env, "optee"


class NginxRunner:
    def __init__(self, base: Path, ca: tlsutil.DevCA):
        self.base = base
        self.ca = ca
        self.running: list[tlsutil.Nginx] = []
        self.n = 0

    def make(self, env: dict, cert, key, workers: int = 2, user: str | None = None,
             env_names=PROVIDER_ENV, listen_opts: str = "", server_extra: str = "",
             start: bool = True, ssl_engine: str | None = None) -> tlsutil.Nginx:
        self.n += 1
        prefix = Path(tempfile.mkdtemp(prefix=f"nginx{self.n}-", dir=self.base))
        os.chmod(prefix, 0o755)
        port = tlsutil.free_port()
        conf = tlsutil.render_nginx_conf(prefix, port, cert, key, workers=workers,
                                         env_names=env_names, user=user,
                                         listen_opts=listen_opts,
                                         server_extra=server_extra, html=BODY,
                                         ssl_engine=ssl_engine)
        ngx = tlsutil.Nginx(prefix, conf, port, env)
        self.running.append(ngx)
        if start:
            ngx.start()
        return ngx

    def stop_all(self):
        stop_all(n.stop for n in self.running)


@pytest.fixture
def nginx_runner(shared_dir, dev_ca):
    r = NginxRunner(shared_dir, dev_ca)
    yield r
    r.stop_all()


def fetch(ngx: tlsutil.Nginx, ca: tlsutil.DevCA, path: str = "/", extra=()):
    r = tlsutil.curl(f"https://localhost:{ngx.port}{path}", ca.cert_path,
                     extra=["--resolve", f"localhost:{ngx.port}:127.0.0.1", *extra])
    assert r.returncode == 0, f"curl: {r.stderr}\nnginx:\n{ngx.errors()[-4000:]}"
    return r.stdout


def uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


def assert_no_alerts(ngx: tlsutil.Nginx):
    bad = [l for l in ngx.errors().splitlines()
           if any(f"[{lvl}]" in l for lvl in ("emerg", "alert", "crit"))]
    assert not bad, "\n".join(bad)


USERS = [None, "root"] if IS_ROOT else [None]


# ---- provider: PEM key reference ------------------------------------------


@pytest.mark.parametrize("user", USERS, ids=lambda u: f"user-{u or 'default'}")
@pytest.mark.parametrize("key_type", ["p256", "rsa2048", "ed25519"])
def test_nginx_provider_reference(nginx_runner, tls_sim, tee_keys, dev_ca,
                                  key_type, user):
    ident = tee_keys.get(key_type)
    ngx = nginx_runner.make(tls_sim.env, ident.cert, ident.ref, user=user)
    for path_ in ("/", "/index.html"):
        assert fetch(ngx, dev_ca, path_) == BODY
    for v in ("1.2", "1.3"):
        h = tlsutil.s_client(ngx.port, dev_ca.cert_path, version=v)
        assert h.ok, h.output
    workers = ngx.worker_pids()
    assert workers
    want_uid = 0 if user == "root" else (65534 if IS_ROOT else os.geteuid())
    assert all(uid_of(p) == want_uid for p in workers)
    assert_no_alerts(ngx)


@pytest.mark.parametrize("how", ["provider", "engine"])
def test_nginx_minimal_env(nginx_runner, tls_sim, tee_keys, dev_ca, shared_dir, how):
    """Which `env` directives are really needed: the master reads
    OPENSSL_CONF (and loads the provider / ENGINE and libteec) before it
    forks; workers only need to reach the TEE, which with the simulator
    means OPTEE_SIM_SOCKET (on a device: /dev/tee0, no env at all)."""
    if how == "engine":
        tlsutil.require_engine()
    ident = tee_keys.get("p256")
    if how == "provider":
        env, key, ssl_engine = tls_sim.env, ident.ref, None
    else:
        env, ssl_engine = engine_setup(tls_sim, shared_dir, "openssl.cnf")
        key = f"engine:optee:{ident.label}"
    ngx = nginx_runner.make(env, ident.cert, key, env_names=["OPTEE_SIM_SOCKET"],
                            ssl_engine=ssl_engine)
    assert fetch(ngx, dev_ca) == BODY
    assert_no_alerts(ngx)


# ---- ENGINE ----------------------------------------------------------------


@pytest.mark.parametrize("init", ENGINE_INITS)
@pytest.mark.parametrize("user", USERS, ids=lambda u: f"user-{u or 'default'}")
@pytest.mark.parametrize("key_type", ["p256", "rsa2048"])
def test_nginx_engine(nginx_runner, tls_sim, tee_keys, dev_ca, shared_dir,
                      key_type, user, init):
    tlsutil.require_engine()
    ident = tee_keys.get(key_type)
    env, ssl_engine = engine_setup(tls_sim, shared_dir, init)
    ngx = nginx_runner.make(env, ident.cert, f"engine:optee:{ident.label}",
                            user=user, env_names=ENGINE_ENV, ssl_engine=ssl_engine)
    assert fetch(ngx, dev_ca) == BODY
    for v in ("1.2", "1.3"):
        h = tlsutil.s_client(ngx.port, dev_ca.cert_path, version=v)
        assert h.ok, h.output
    assert_no_alerts(ngx)


def test_nginx_engine_uninitialised(nginx_runner, tls_sim, tee_keys, dev_ca):
    """Documents nginx's behaviour: `engine:optee:LABEL` alone (ENGINE
    neither initialised by ssl_engine nor by openssl.cnf) fails in
    ENGINE_load_private_key with "not initialised"."""
    tlsutil.require_engine()
    ident = tee_keys.get("p256")
    env = dict(tls_sim.env)
    env.pop("OPENSSL_CONF", None)
    ngx = nginx_runner.make(env, ident.cert, f"engine:optee:{ident.label}",
                            env_names=ENGINE_ENV, start=False)
    t = ngx.test_config()
    print(t.stderr)
    if t.returncode != 0:
        assert "ENGINE_load_private_key" in t.stderr


# ---- fork + concurrency ---------------------------------------------------


def parallel_gets(port: int, ca, n: int, threads: int = 16):
    def one(_):
        return tlsutil.https_get(port, ca.cert_path)

    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        return list(ex.map(one, range(n)))


@pytest.mark.parametrize("how", ["provider", "engine"])
def test_nginx_concurrent_workers(nginx_runner, tls_sim, tee_keys, dev_ca, how):
    if how == "engine":
        tlsutil.require_engine()
    workers = 3
    ident = tee_keys.get("p256")
    before_start = tls_sim.stats()
    if how == "provider":
        ngx = nginx_runner.make(tls_sim.env, ident.cert, ident.ref,
                                workers=workers, listen_opts="reuseport")
    else:
        env, ssl_engine = engine_setup(tls_sim, nginx_runner.base, "openssl.cnf")
        ngx = nginx_runner.make(env, ident.cert, f"engine:optee:{ident.label}",
                                workers=workers, listen_opts="reuseport",
                                env_names=ENGINE_ENV, ssl_engine=ssl_engine)
    started = tls_sim.stats()
    # 200 full handshakes from 16 Python threads (fresh context each, so no
    # session resumption), then 50 more through one curl --parallel.
    results = parallel_gets(ngx.port, dev_ca, 200)
    assert all(s == 200 and b.decode() == BODY for s, b, _ in results)
    urls = [f"https://localhost:{ngx.port}/?{i}" for i in range(50)]
    r = tlsutil.curl(urls[0], dev_ca.cert_path, extra=[
        "--resolve", f"localhost:{ngx.port}:127.0.0.1", "--parallel",
        "--parallel-max", "25", "--no-sessionid", *urls[1:]])
    assert r.returncode == 0, r.stderr
    assert r.stdout == BODY * 50
    after = tls_sim.stats()
    entries = ngx.access_entries(expect=250)    # 200 + 50 requests
    served = {p for p, _, _ in entries}
    assert len(served) > 1, f"only {served} served"
    assert served <= set(ngx.worker_pids())
    new_sessions = after["sessions_opened"] - started["sessions_opened"]
    signs = after["ta_invocations"] - started["ta_invocations"]
    print(f"[{how}] nginx start: {started['sessions_opened'] - before_start['sessions_opened']}"
          f" sessions, {started['ta_invocations'] - before_start['ta_invocations']}"
          f" invocations; traffic: {new_sessions} sessions for {len(served)} "
          f"serving workers, {signs} TA invocations for "
          f"{len(entries)} requests on {ngx.full_handshakes(entries)} "
          "fully handshaken connections")
    # One TA session per worker process, not per request or per thread.
    assert new_sessions == len(served), (new_sessions, served)
    # Exactly one TA invocation (the signature) per full handshake; Python
    # threads never resume, curl runs with --no-sessionid (but reuses its
    # connections for several requests).
    full = ngx.full_handshakes(entries)
    assert full == len({(p, c) for p, c, _ in entries})
    assert signs == full, (signs, full)
    assert after["panics"] == started["panics"]
    assert_no_alerts(ngx)


# ---- resilience -------------------------------------------------------------


def test_nginx_survives_simulator_restart(nginx_runner, tls_sim, tee_keys, dev_ca):
    ident = tee_keys.get("p256")
    ngx = nginx_runner.make(tls_sim.env, ident.cert, ident.ref, workers=2,
                            listen_opts="reuseport")
    results = parallel_gets(ngx.port, dev_ca, 20, threads=4)
    assert all(s == 200 for s, _, _ in results)
    ngx.access_lines(expect=20)     # logged before what comes next
    tls_sim.restart()        # same socket path and store: every session is gone
    results = parallel_gets(ngx.port, dev_ca, 40, threads=4)
    assert all(s == 200 and b.decode() == BODY for s, b, _ in results)
    served_after = set(ngx.access_pids(expect=60)[20:])
    st = tls_sim.stats()
    print(f"after restart: {st}; served by {served_after}")
    # each worker that served after the restart reopened its session once
    # (the new simulator's counters start from zero)
    assert st["sessions_opened"] == len(served_after)
    assert st["ta_invocations"] == 40
    print("nginx error log after restart:\n" + ngx.errors()[-3000:])
    assert_no_alerts(ngx)


def test_nginx_reload_after_simulator_restart(nginx_runner, tls_sim, tee_keys,
                                              dev_ca):
    """The master's own TEE session dies with the simulator too: a reload
    (SIGHUP, as `nginx -s reload`) re-reads the key reference through it."""
    ident = tee_keys.get("p256")
    ngx = nginx_runner.make(tls_sim.env, ident.cert, ident.ref, workers=2)
    assert fetch(ngx, dev_ca) == BODY
    tls_sim.restart()
    new_workers = ngx.reload()
    assert fetch(ngx, dev_ca) == BODY
    # The second request's line (waiting for it: nginx writes it after
    # the response, so curl may be done first).
    assert ngx.access_pids(expect=2)[1] in new_workers
    st = tls_sim.stats()
    print("reload after restart:", st)
    assert_no_alerts(ngx)


def test_nginx_survives_ta_panic(nginx_runner, tls_sim, tee_keys, dev_ca):
    ident = tee_keys.get("p256")
    ngx = nginx_runner.make(tls_sim.env, ident.cert, ident.ref, workers=2,
                            listen_opts="reuseport")
    results = parallel_gets(ngx.port, dev_ca, 20, threads=4)
    assert all(s == 200 for s, _, _ in results)
    ngx.access_lines(expect=20)     # logged before what comes next
    before = tls_sim.stats()
    tls_sim.ctl("panic-instances")
    mid = tls_sim.stats()
    results = parallel_gets(ngx.port, dev_ca, 40, threads=4)
    assert all(s == 200 and b.decode() == BODY for s, b, _ in results)
    after = tls_sim.stats()
    served_after = set(ngx.access_pids(expect=60)[20:])
    print(f"panic: before {before}\nmid {mid}\nafter {after}; served by {served_after}")
    assert mid["panics"] > before["panics"]
    # each worker that served afterwards reopened its session exactly once
    assert after["sessions_opened"] - mid["sessions_opened"] == len(served_after)
    assert after["ta_invocations"] - mid["ta_invocations"] == 40
    print("nginx error log after panic:\n" + ngx.errors()[-3000:])
    assert_no_alerts(ngx)


# ---- errors a user sees ------------------------------------------------------


def test_nginx_reference_to_missing_key(nginx_runner, tls_sim, tee_keys, dev_ca,
                                        shared_dir):
    ident = tee_keys.get("p256")
    ghost = tlsutil.write_key_reference(
        shared_dir / "ghost.ref.pem", "optee:ghost-key",
        tlsutil.cert_public_key_der(ident.cert))
    ngx = nginx_runner.make(tls_sim.env, ident.cert, ghost, start=False)
    t = ngx.test_config()
    out = t.stdout + t.stderr
    print(out)
    assert t.returncode != 0, out
    assert "ghost.ref.pem" in out
    assert "key not found" in out.lower(), out
    assert "ghost-key" in out


def test_nginx_engine_missing_key(nginx_runner, tls_sim, tee_keys, dev_ca):
    tlsutil.require_engine()
    ident = tee_keys.get("p256")
    env, ssl_engine = engine_setup(tls_sim, nginx_runner.base, "openssl.cnf")
    ngx = nginx_runner.make(env, ident.cert, "engine:optee:ghost-key",
                            env_names=ENGINE_ENV, start=False)
    t = ngx.test_config()
    out = t.stdout + t.stderr
    print(out)
    assert t.returncode != 0, out
    assert "key not found" in out.lower(), out
    assert "ghost-key" in out


def test_nginx_simulator_down(nginx_runner, sim_factory, dev_ca, shared_dir):
    other = sim_factory("down")
    km = tlsutil.KeyMaker(other, dev_ca, shared_dir / "down")
    ident = km.get("p256", label="down-key")
    other.stop()
    ngx = nginx_runner.make(other.env, ident.cert, ident.ref, start=False)
    t = ngx.test_config()
    out = t.stdout + t.stderr
    print(out)
    assert t.returncode != 0, out
    assert "TEE not reachable" in out, out
    assert "down-key" in out
