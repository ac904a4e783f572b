SUMMARY = "nginx serving HTTPS with the optee-tls key"
DESCRIPTION = "An nginx server block whose private key is the PEM reference \
               to a key in the optee-tls Trusted Application, and the \
               ordering that starts nginx after first-boot provisioning."
SECTION = "net"
LICENSE = "BSD-2-Clause"
LIC_FILES_CHKSUM = "file://optee-tls-https.conf;beginline=1;endline=1;md5=9fd42b310e71de4e433f6e7c14d7ef8c"
CVE_PRODUCT = "optee-tls"

SRC_URI = "file://optee-tls-https.conf \
           file://optee-tls.conf \
          "
S = "${UNPACKDIR}"

# Where optee-tls-provision.service installs the certificate and the PEM key
# reference (the default /etc/optee-tls/provision.yaml must agree).
OPTEE_TLS_NGINX_CERT ?= "${localstatedir}/lib/optee-tls/web/cert.pem"
OPTEE_TLS_NGINX_KEY ?= "${localstatedir}/lib/optee-tls/web/key.pem"
OPTEE_TLS_NGINX_PORT ?= "443"
NGINX_WWWDIR ?= "${localstatedir}/www/localhost"

do_install() {
    install -D -m 0644 ${S}/optee-tls-https.conf ${D}${sysconfdir}/nginx/conf.d/optee-tls-https.conf
    sed -i -e 's,@CERT@,${OPTEE_TLS_NGINX_CERT},' -e 's,@KEY@,${OPTEE_TLS_NGINX_KEY},' \
        -e 's,@PORT@,${OPTEE_TLS_NGINX_PORT},g' -e 's,@WWWDIR@,${NGINX_WWWDIR}/html,' \
        ${D}${sysconfdir}/nginx/conf.d/optee-tls-https.conf
    install -D -m 0644 ${S}/optee-tls.conf ${D}${systemd_system_unitdir}/nginx.service.d/optee-tls.conf
}

FILES:${PN} += "${sysconfdir}/nginx/conf.d/optee-tls-https.conf \
                ${systemd_system_unitdir}/nginx.service.d/optee-tls.conf \
              "
CONFFILES:${PN} += "${sysconfdir}/nginx/conf.d/optee-tls-https.conf"

RDEPENDS:${PN} = "nginx python3-optee-tls"

# Configuration for the target's nginx only.
BBCLASSEXTEND = ""
