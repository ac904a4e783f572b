# SPDX-License-Identifier: BSD-2-Clause
"""On a booted optee-tls-image: first-boot provisioning made a key in the TA,
and nginx serves TLS with it (the certificate's public key is the TA's)."""

from oeqa.core.decorator.depends import OETestDepends
from oeqa.core.decorator.oetimeout import OETimeout
from oeqa.runtime.case import OERuntimeTestCase
from oeqa.runtime.decorator.package import OEHasPackage

TA = "/lib/optee_armtz/8d3a5b12-6c47-4f0e-9a1d-2b7c0e5f4a61.ta"
CERT = "/var/lib/optee-tls/web/cert.pem"
KEYREF = "/var/lib/optee-tls/web/key.pem"


class OpteeTlsTest(OERuntimeTestCase):

    def run_ok(self, cmd, timeout=120):
        status, output = self.target.run(cmd, timeout=timeout)
        self.assertEqual(status, 0, msg=f"{cmd}\n{output}")
        return output

    @OEHasPackage(["optee-tls-ta"])
    def test_ta_installed_read_only(self):
        out = self.run_ok(f"stat -c %a {TA}")
        self.assertEqual(out.strip(), "444")

    @OETimeout(600)
    @OEHasPackage(["python3-optee-tls"])
    def test_provisioned(self):
        # The oneshot service ran (or runs now) and left its outputs.
        self.run_ok("systemctl start optee-tls-provision.service", timeout=600)
        self.run_ok("systemctl is-active optee-tls-provision.service")
        ref = self.run_ok(f"cat {KEYREF}")
        self.assertIn("-----BEGIN OPTEE TLS KEY-----", ref)
        self.assertNotIn("PRIVATE KEY", ref)
        self.run_ok(f"openssl x509 -noout -in {CERT}")

    @OETestDepends(["optee_tls.OpteeTlsTest.test_provisioned"])
    @OEHasPackage(["optee-tls-nginx"])
    def test_nginx_serves_with_tee_key(self):
        self.run_ok("systemctl is-active nginx.service")
        # The key nginx signs with is the TA's: the public key in the served
        # certificate equals the one the provider reads from the reference.
        served = self.run_ok(
            "openssl s_client -connect 127.0.0.1:443 </dev/null 2>/dev/null"
            " | openssl x509 -noout -pubkey")
        tee = self.run_ok(f"openssl pkey -in {KEYREF} -pubout")
        self.assertEqual(served.strip(), tee.strip())
        self.assertIn("BEGIN PUBLIC KEY", served)
        # A handshake completes (signature made in the TA by a worker).
        self.run_ok("echo | openssl s_client -connect 127.0.0.1:443 -brief")
        # Workers run as www, in group tee (no world access to /dev/tee0).
        self.run_ok("id -nG www | grep -qw tee")
