#!/bin/sh
# Runs inside sim/with-sim (simulator up, OPENSSL_CONF activates the provider).
set -eu
DEMO=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LABEL=demo-tls
step() { printf '\n== %s\n' "$*"; }

step "1. generate an ECDSA P-256 key inside the TEE (label $LABEL)"
openssl genpkey -provider optee -provider default -propquery '?provider=optee' \
    -algorithm EC -pkeyopt group:P-256 -pkeyopt label:$LABEL \
    -out "$DEMO/tls-server.key.pem"
echo "key reference file (no private key inside):"
cat "$DEMO/tls-server.key.pem"
openssl pkey -in "$DEMO/tls-server.key.pem" -pubout

step "2. CSR signed by the TEE-held key"
openssl req -new -key "$DEMO/tls-server.key.pem" -subj "/CN=localhost/O=optee-tls demo" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -out "$DEMO/tls-server.csr"
openssl req -in "$DEMO/tls-server.csr" -noout -verify -subject

step "3. certificate from a local development CA"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -provider default -subj "/CN=optee-tls demo CA" \
    -keyout "$DEMO/ca.key" -out "$DEMO/ca.pem" 2>/dev/null
openssl x509 -req -in "$DEMO/tls-server.csr" -CA "$DEMO/ca.pem" -CAkey "$DEMO/ca.key" \
    -CAcreateserial -days 30 -copy_extensions copy -out "$DEMO/tls-server.crt" 2>/dev/null
openssl verify -CAfile "$DEMO/ca.pem" "$DEMO/tls-server.crt"

step "4. nginx (master + 2 workers) serving HTTPS with the key in the TEE"
# The same nginx configuration the tests use (tests/nginx/nginx.conf.in).
TLSUTIL="$ROOT/.venv/bin/python $ROOT/tests/tlsutil.py"
PORT=$($TLSUTIL free-port)
CONF=$($TLSUTIL nginx-conf --prefix "$DEMO/nginx" --port "$PORT" \
    --cert "$DEMO/tls-server.crt" --key "$DEMO/tls-server.key.pem" --workers 2 \
    --env OPENSSL_CONF --env OPENSSL_MODULES --env OPTEE_SIM_SOCKET --env LD_LIBRARY_PATH \
    --html "<h1>Hello from a key that lives in TrustZone</h1>")
nginx -p "$DEMO/nginx" -c "$CONF"
NGINX_PID=$(cat "$DEMO/nginx/nginx.pid")
trap 'kill "$NGINX_PID" 2>/dev/null || true' EXIT
i=0; until curl -s -o /dev/null --cacert "$DEMO/ca.pem" "https://localhost:$PORT/" || [ $i -ge 100 ]; do i=$((i+1)); sleep 0.1; done

step "5. curl https://localhost:$PORT/ (verifying against the dev CA)"
# curl runs without our provider: it only needs the CA certificate.
env -u OPENSSL_CONF curl -sS --cacert "$DEMO/ca.pem" -w '\n(HTTP %{http_code}, %{ssl_verify_result} = verify ok)\n' \
    "https://localhost:$PORT/"
echo | env -u OPENSSL_CONF openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
    -CAfile "$DEMO/ca.pem" 2>/dev/null | grep -E "^(Peer signature type|Peer signing digest|Verification|New,)" || true

kill "$NGINX_PID"; trap - EXIT
step "done: the private key never left the TEE"
"$ROOT/build/bin/tee-sim-ctl" --socket "$OPTEE_SIM_SOCKET" stats
