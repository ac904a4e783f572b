#!/bin/sh
# Runs inside sim/with-sim (simulator up, OPENSSL_CONF activates the provider).
set -eu
DEMO=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
step() { printf '\n== %s\n' "$*"; }

# The tool the device runs on first boot, from an example config: facts
# from a fake Raspberry Pi tree, Jinja templates, a local development CA.
OPTEE_TLS="$ROOT/.venv/bin/python -m optee_tls --config $ROOT/provisioning/examples/demo.yaml --root $ROOT/provisioning/examples/roots/rpi"
export PYTHONPATH="$ROOT/provisioning/src"

step "1. device facts the templates see (fake Raspberry Pi tree)"
$OPTEE_TLS facts

step "2. optee-tls provision: key in the TEE, CSR from templates, local-ca, install"
"$ROOT/.venv/bin/python" "$ROOT/tests/tlsutil.py" ca "$DEMO/ca" >/dev/null
OPTEE_TLS_ALLOW_LOCAL_CA=1 $OPTEE_TLS provision
echo "key reference file (no private key inside):"
cat "$DEMO/tls-server.key.pem"
openssl req -in "$DEMO/state/tls-server.csr.pem" -noout -verify -subject

step "3. optee-tls status, and a rerun that has nothing to do"
$OPTEE_TLS status
OPTEE_TLS_ALLOW_LOCAL_CA=1 $OPTEE_TLS provision
openssl verify -CAfile "$DEMO/ca/ca.pem" "$DEMO/tls-server.crt"

step "4. nginx (master + 2 workers) serving HTTPS with the key in the TEE"
# The same nginx configuration the tests use (tests/nginx/nginx.conf.in).
TLSUTIL="$ROOT/.venv/bin/python $ROOT/tests/tlsutil.py"
PORT=$($TLSUTIL free-port)
CONF=$($TLSUTIL nginx-conf --prefix "$DEMO/nginx" --port "$PORT" \
    --cert "$DEMO/tls-server.fullchain.pem" --key "$DEMO/tls-server.key.pem" --workers 2 \
    --env OPENSSL_CONF --env OPENSSL_MODULES --env OPTEE_SIM_SOCKET --env LD_LIBRARY_PATH \
    --html "<h1>Hello from a key that lives in TrustZone</h1>")
nginx -p "$DEMO/nginx" -c "$CONF"
NGINX_PID=$(cat "$DEMO/nginx/nginx.pid")
trap 'kill "$NGINX_PID" 2>/dev/null || true' EXIT
i=0; until curl -s -o /dev/null --cacert "$DEMO/ca/ca.pem" "https://localhost:$PORT/" || [ $i -ge 100 ]; do i=$((i+1)); sleep 0.1; done

step "5. curl https://localhost:$PORT/ (verifying against the dev CA)"
# curl runs without our provider: it only needs the CA certificate.
env -u OPENSSL_CONF curl -sS --cacert "$DEMO/ca/ca.pem" -w '\n(HTTP %{http_code}, %{ssl_verify_result} = verify ok)\n' \
    "https://localhost:$PORT/"
echo | env -u OPENSSL_CONF openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
    -CAfile "$DEMO/ca/ca.pem" 2>/dev/null | grep -E "^(Peer signature type|Peer signing digest|Verification|New,)" || true

kill "$NGINX_PID"; trap - EXIT
step "done: the private key never left the TEE"
"$ROOT/build/bin/tee-sim-ctl" --socket "$OPTEE_SIM_SOCKET" stats
