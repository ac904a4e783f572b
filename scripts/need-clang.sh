#!/bin/sh
# make fuzz / fuzz-ci: clang with libFuzzer and the sanitizer runtimes.
# Package names exist on Debian 12 and 13 alike (clang, libclang-rt-dev).
set -eu
if command -v clang >/dev/null 2>&1 \
   && echo 'int LLVMFuzzerTestOneInput(const char *d, long n){return 0;}' \
      | clang -fsanitize=fuzzer,address -x c - -o /dev/null 2>/dev/null; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "fuzzing needs clang and libFuzzer: apt-get install clang libclang-rt-dev" >&2
	exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	clang libclang-rt-dev
