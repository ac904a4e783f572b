#!/bin/sh
# Inside the QEMU guest (started by tests/qemu/run.sh from /init): with
# real OP-TEE, our TA, libopteetls and the provider, run GUEST=smoke (keys,
# signatures checked by the default provider, a TLS handshake through
# nginx) or GUEST=bench (smoke, then key generation time, signatures/s and
# TLS handshakes/s against nginx with 2 workers, 1 and 2 concurrent
# clients, for our TA, OP-TEE's PKCS#11 TA through libp11, and a file
# key). Results: key=value lines in results.txt, sent back base64-encoded
# between two markers on the console.
. /otls/config
R=/tmp/results
mkdir -p "$R" /tmp/w /var/lib/nginx
OUT=$R/results.txt
cd /tmp/w || exit 1
MODDIR=/usr/lib/aarch64-linux-gnu/ossl-modules
ENGDIR=/usr/lib/aarch64-linux-gnu/engines-3
CKTEEC=/usr/lib/aarch64-linux-gnu/libckteec.so.0
P11PIN=123456
SIGN_N=${SIGN_N:-10}
HS_TIME=${HS_TIME:-15}

res() { echo "$1=$2" | tee -a "$OUT"; }
now() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

cat > /otls/optee.cnf <<EOF
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
optee = optee_sect
[default_sect]
activate = 1
[optee_sect]
module = $MODDIR/optee.so
activate = 1
EOF
# libp11's ENGINE only for the PKCS#11 baseline's nginx.
sed 's/^providers = provider_sect$/providers = provider_sect\
engines = engine_sect/' /otls/optee.cnf > /otls/p11.cnf
cat >> /otls/p11.cnf <<EOF
[engine_sect]
pkcs11 = pkcs11_sect
[pkcs11_sect]
dynamic_path = $ENGDIR/pkcs11.so
MODULE_PATH = $CKTEEC
init = 0
EOF
export OPENSSL_CONF=/otls/optee.cnf

res guest_uname "$(uname -r)"
res guest_openssl "$(openssl version | tr ' ' '_')"
openssl list -providers > "$R/providers.txt" 2>&1
res providers_active "$(grep -c 'status: active' "$R/providers.txt")"
res ta_crypto "$TA_CRYPTO"
res core_crypto "$CORE_CRYPTO"

# ---- smoke --------------------------------------------------------------
smoke_ok=1
t0=$(now)
openssl genpkey -propquery provider=optee -algorithm EC \
	-pkeyopt group:P-256 -pkeyopt label:p256 -out p256.pem \
	2>"$R/genpkey-p256.err" || smoke_ok=0
res keygen_s_p256 "$(since "$t0")"
t0=$(now)
openssl genpkey -propquery provider=optee -algorithm RSA \
	-pkeyopt bits:2048 -pkeyopt label:rsa2048 -out rsa2048.pem || smoke_ok=0
res keygen_s_rsa2048 "$(since "$t0")"
echo "signed in the TEE" > msg
for k in p256 rsa2048; do
	openssl pkey -in $k.pem -pubout -out $k.pub || smoke_ok=0
	for md in sha1 sha224 sha256 sha384 sha512; do
		openssl dgst -$md -sign $k.pem -out $k.$md.sig msg &&
		OPENSSL_CONF=/dev/null openssl dgst -$md -verify $k.pub \
			-signature $k.$md.sig msg >/dev/null || {
			smoke_ok=0; res smoke_fail "$k-$md"; }
	done
done
# Raw PKCS#1 v1.5 (no digest): only where the core or our backend has it.
head -c 36 msg > raw
if openssl pkeyutl -sign -inkey rsa2048.pem -in raw -out raw.sig \
	2>raw.err; then res raw_pkcs1 ok
else res raw_pkcs1 "$(tr ' ' '_' < raw.err | head -c 120)"; fi

cert() { # key -> self-signed certificate
	openssl req -new -x509 -key "$1" -subj /CN=localhost -days 2 \
		-out "$1.crt" 2>/dev/null
}

nginx_start() { # name port cert key [ssl_engine]
	mkdir -p "/tmp/ngx-$1"
	cat > "/tmp/ngx-$1/nginx.conf" <<EOF
user root;
worker_processes 2;
pid /tmp/ngx-$1/pid;
error_log /tmp/ngx-$1/error.log;
env OPENSSL_CONF;
${5:+ssl_engine $5;}
events { worker_connections 128; }
http {
  access_log off;
  client_body_temp_path /tmp/ngx-$1; proxy_temp_path /tmp/ngx-$1;
  fastcgi_temp_path /tmp/ngx-$1; uwsgi_temp_path /tmp/ngx-$1;
  scgi_temp_path /tmp/ngx-$1;
  server {
    listen 127.0.0.1:$2 ssl;
    ssl_certificate $3;
    ssl_certificate_key $4;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache off; ssl_session_tickets off;
    location / { return 200 "ok\n"; }
  }
}
EOF
	nginx -c "/tmp/ngx-$1/nginx.conf" -p "/tmp/ngx-$1" || {
		res "nginx_fail_$1" "$(tail -1 /tmp/ngx-$1/error.log)"; return 1; }
	sleep 1
}

nginx_stop() { kill "$(cat "/tmp/ngx-$1/pid")"; sleep 1; }

# handshakes/s: N concurrent `openssl s_time -new` for HS_TIME seconds
hs_rate() { # port tlsflag clients
	i=0
	while [ $i -lt "$3" ]; do
		OPENSSL_CONF=/dev/null openssl s_time -connect "127.0.0.1:$1" \
			-new "$2" -time "$HS_TIME" > "st.$i" 2>&1 &
		i=$((i + 1))
	done
	wait
	cat st.* | awk '/connections in .* real seconds/ {
		n += $1; t = $4 > t ? $4 : t } END {
		if (t > 0) printf "%.2f", n / t; else print "fail" }'
	rm -f st.*
}

cert p256.pem
cert rsa2048.pem
nginx_start smoke 8443 /tmp/w/p256.pem.crt /tmp/w/p256.pem &&
	OPENSSL_CONF=/dev/null openssl s_client -connect 127.0.0.1:8443 \
	-tls1_3 </dev/null 2>&1 | grep -q "Verification error: self" ||
	smoke_ok=0
nginx_stop smoke
res smoke "$([ $smoke_ok = 1 ] && echo pass || echo FAIL)"

# ---- bench ----------------------------------------------------------------
if [ "$GUEST" = bench ]; then
	OPENSSL_CONF=/dev/null openssl genpkey -algorithm EC \
		-pkeyopt ec_paramgen_curve:P-256 -out file-p256.pem
	OPENSSL_CONF=/dev/null openssl genpkey -algorithm RSA \
		-pkeyopt rsa_keygen_bits:2048 -out file-rsa2048.pem
	cert file-p256.pem
	cert file-rsa2048.pem
	for a in "p256 ecdsa" "rsa2048 pss"; do
		set -- $a
		r=$(/otls/sign_bench otls "$1" "$2" "$SIGN_N")
		res "sign_per_s_ta_$1_1" "$(echo "$r" | awk -F'[= ]' \
			'{ printf "%.2f", $2 / $4 }')"
		/otls/sign_bench otls "$1" "$2" "$SIGN_N" > s1 &
		/otls/sign_bench otls "$1" "$2" "$SIGN_N" > s2 &
		wait
		res "sign_per_s_ta_$1_2procs" "$(cat s1 s2 | awk -F'[= ]' \
			'{ n += $2; t = $4 > t ? $4 : t } END {
			printf "%.2f", n / t }')"
		r=$(/otls/sign_bench soft "file-$1.pem" "$2" 500)
		res "sign_per_s_file_$1" "$(echo "$r" | awk -F'[= ]' \
			'{ printf "%.2f", $2 / $4 }')"
	done

	# OP-TEE's PKCS#11 TA through libp11 (same keys types, same nginx).
	p11=0
	if [ -e "$CKTEEC" ] && command -v pkcs11-tool >/dev/null; then
		P="pkcs11-tool --module $CKTEEC"
		$P --init-token --slot 0 --label otls --so-pin 12345678 \
			>/dev/null 2>&1 &&
		$P --token-label otls --login --so-pin 12345678 --login-type so \
			--init-pin --pin $P11PIN >/dev/null 2>&1 &&
		t0=$(now) &&
		$P --token-label otls --login --pin $P11PIN --keypairgen \
			--key-type EC:prime256v1 --id 01 --label p256 \
			>/dev/null 2>&1 &&
		res keygen_s_p11_p256 "$(since "$t0")" &&
		t0=$(now) &&
		$P --token-label otls --login --pin $P11PIN --keypairgen \
			--key-type rsa:2048 --id 02 --label rsa2048 \
			>/dev/null 2>&1 &&
		res keygen_s_p11_rsa2048 "$(since "$t0")" && p11=1
	fi
	res pkcs11_baseline "$([ $p11 = 1 ] && echo yes || echo unavailable)"

	port=9000
	for k in p256 rsa2048; do
		for who in ta file p11; do
			case $who in
			ta) key=/tmp/w/$k.pem; crt=/tmp/w/$k.pem.crt; eng= ;;
			file) key=/tmp/w/file-$k.pem
			      crt=/tmp/w/file-$k.pem.crt; eng= ;;
			p11) [ $p11 = 1 ] || continue
			     key="engine:pkcs11:pkcs11:token=otls;object=$k;type=private;pin-value=$P11PIN"
			     # The certificate of the token key: from its
			     # public key, signed by our own TEE key (any
			     # issuer will do for s_time).
			     pkcs11-tool --module $CKTEEC --token-label otls \
				--read-object --type pubkey --label $k \
				-o p11-$k.der >/dev/null 2>&1
			     openssl pkey -pubin -inform DER -in p11-$k.der \
				-out p11-$k.pub 2>/dev/null
			     openssl req -new -key /tmp/w/$k.pem \
				-subj /CN=localhost -out p11-$k.csr
			     openssl x509 -req -in p11-$k.csr \
				-force_pubkey p11-$k.pub -signkey /tmp/w/$k.pem \
				-days 2 -out /tmp/w/p11-$k.crt 2>/dev/null
			     crt=/tmp/w/p11-$k.crt; eng=pkcs11 ;;
			esac
			port=$((port + 1))
			cnf=/otls/optee.cnf
			[ "$who" = p11 ] && cnf=/otls/p11.cnf
			OPENSSL_CONF=$cnf nginx_start "$who-$k" $port "$crt" \
				"$key" "$eng" || continue
			for tls in 1_3 1_2; do
				for c in 1 2; do
					res "hs_per_s_${who}_${k}_tls${tls}_${c}clients" \
						"$(hs_rate $port -tls$tls $c)"
				done
			done
			nginx_stop "$who-$k"
		done
	done
fi

echo "==OTLS-RESULTS-BEGIN=="
tar -czf - -C "$R" . | base64
echo "==OTLS-RESULTS-END=="
