#!/bin/sh
# make demo: the whole story on the simulator, in build/demo/.
#  1. a key generated inside the (simulated) TEE,
#  2. a CSR signed by it, 3. a certificate from a local dev CA,
#  4. nginx serving HTTPS with the TEE-held key, 5. curl fetching a page.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEMO="$ROOT/build/demo"
rm -rf "$DEMO"
mkdir -p "$DEMO/store"
exec "$ROOT/sim/with-sim" --store "$DEMO/store" "$ROOT/scripts/demo-steps.sh" "$DEMO"
