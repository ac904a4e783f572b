#!/bin/sh
# make demo: the whole story on the simulator, in build/demo/.
#  1-3. `optee-tls provision` from provisioning/examples/demo.yaml: a key
#  generated in the (simulated) TEE, a CSR from templates, a local dev CA,
#  4. nginx serving HTTPS with the TEE-held key, 5. curl fetching a page.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEMO="$ROOT/build/demo"
rm -rf "$DEMO"
mkdir -p "$DEMO/store"
exec "$ROOT/sim/with-sim" --store "$DEMO/store" "$ROOT/scripts/demo-steps.sh" "$DEMO"
