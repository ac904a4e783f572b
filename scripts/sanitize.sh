#!/bin/sh
# make sanitize: the C code under the sanitizers, each build in its own copy
# of the tree (so its build/ is separate from the normal one and the tests,
# which find everything under <tree>/build, need no switch).
#
#  asan  ASan + UBSan: the simulator (tee-simd with the TA's host build and
#        the host Internal Core API), libteec, libopteetls, the provider and
#        the ENGINE; runs the integration tests (SAN_TESTS). Programs that
#        are not ours (openssl, nginx, python) get the runtime by LD_PRELOAD.
#  tsan  TSan: the same libraries and tee-simd; runs the threaded and fork
#        tests of the client library (tests/test_client.py, TSAN_TESTS),
#        whose C driver is built with -fsanitize=thread.
#
# Any sanitizer report (written to <tree>/san-logs/) fails the target, even
# when the test that provoked it passed. SAN=asan or SAN=tsan runs one.
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=${SAN_DIR:-$TOP/build-san}
PY=${PYTHON:-$TOP/.venv/bin/python}
CC=${CC:-gcc}
WHICH=${SAN:-asan tsan}
SAN_TESTS=${SAN_TESTS:-tests/test_client.py tests/test_provider.py
	tests/test_provider_parity.py tests/test_provider_decrypt.py
	tests/test_provider_robustness.py tests/test_provider_text.py
	tests/test_engine.py tests/test_engine_tls.py
	tests/test_tls_handshake.py tests/test_tls_krsa.py tests/test_sim_daemon.py tests/test_sim_teec.py
	tests/test_ta_keys.py tests/test_ta_sign.py tests/test_ta_protocol.py
	tests/test_ta_owner.py}
# Left out of SAN_TESTS for now: test_tls_nginx.py, test_engine_nginx.py and
# test_tls_clients.py. Under the ASan runtime (LD_PRELOAD) curl with a TEE
# key hangs and the nginx tests fail; not yet diagnosed (docs/development.md).
TSAN_TESTS=${TSAN_TESTS:-tests/test_client.py}
TSAN_SELECT=${TSAN_SELECT:-thread or fork}

# A copy of the working tree (tracked and new files, not build output).
copy_tree() {
	rm -rf "$1"
	mkdir -p "$1"
	(cd "$TOP" && git ls-files -z --cached --others --exclude-standard \
		| xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh \
		| tar --null -T - -cf -) | tar -xf - -C "$1"
	mkdir -p "$1/san-logs"
	chmod 1777 "$1/san-logs"	# nginx workers run as nobody
}

# Fail on any sanitizer report left in the logs.
check_logs() {
	if [ -n "$(ls -A "$1/san-logs")" ]; then
		echo "sanitize: reports in $1/san-logs:" >&2
		for f in "$1"/san-logs/*; do
			echo "== $f" >&2
			head -60 "$f" >&2
		done
		exit 1
	fi
}

run_asan() {
	T=$OUT/asan
	copy_tree "$T"
	flags="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
	# (CFLAGS from the environment: the Makefiles add their own to it)
	CC="$CC" CFLAGS="$flags" LDFLAGS="-fsanitize=address,undefined" make -C "$T" all
	preload="$($CC -print-file-name=libasan.so) $($CC -print-file-name=libubsan.so)"
	start=$(date +%s)
	# (leaks: off, the programs we load into are not ours and exit dirty;
	# handle_segv=0: the simulator tests kill TA instances with SIGSEGV on
	# purpose, and ASan finds memory errors without that handler)
	(cd "$T" && env LD_PRELOAD="$preload" \
		ASAN_OPTIONS="detect_leaks=0:handle_segv=0:log_path=$T/san-logs/asan" \
		UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$T/san-logs/ubsan" \
		"$PY" -m pytest -q -p no:cacheprovider $SAN_TESTS)
	echo "sanitize: asan+ubsan tests took $(( $(date +%s) - start )) s"
	check_logs "$T"
}

run_tsan() {
	T=$OUT/tsan
	copy_tree "$T"
	flags="-O1 -g -fno-omit-frame-pointer -fsanitize=thread"
	CC="$CC" CFLAGS="$flags" LDFLAGS="-fsanitize=thread" make -C "$T" all
	start=$(date +%s)
	(cd "$T" && env OTLS_TEST_CFLAGS="-fsanitize=thread" \
		TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$T/san-logs/tsan" \
		"$PY" -m pytest -q -p no:cacheprovider $TSAN_TESTS -k "$TSAN_SELECT")
	echo "sanitize: tsan tests took $(( $(date +%s) - start )) s"
	check_logs "$T"
}

for s in $WHICH; do
	case $s in
	asan) run_asan ;;
	tsan) run_tsan ;;
	*) echo "sanitize: unknown SAN=$s (asan, tsan)" >&2; exit 2 ;;
	esac
done
