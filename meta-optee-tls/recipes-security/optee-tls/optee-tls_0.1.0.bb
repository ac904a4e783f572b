SUMMARY = "optee-tls client library, OpenSSL provider and ENGINE"
DESCRIPTION = "libopteetls talks to the optee-tls Trusted Application; the \
               OpenSSL provider and ENGINE on top of it let unmodified \
               programs use TLS keys held in OP-TEE."
LIC_FILES_CHKSUM = "file://engine/client/wire.c;beginline=1;endline=1;md5=999e469d517ea75c6012ac6639dce016"

require optee-tls.inc

DEPENDS += "openssl optee-client"

inherit pkgconfig

SRC_URI = "file://Makefile;subdir=optee-tls \
           file://engine;subdir=optee-tls \
           file://ta/include;subdir=optee-tls \
          "

B = "${WORKDIR}/build"

# The directories the target's libcrypto.pc names; do_configure checks them.
modulesdir = "${libdir}/ossl-modules"
enginesdir = "${libdir}/engines-3"

# The project's own `make install` (tests/install_manifest.py lists what it
# installs), with libteec from optee-client and no in-tree rpath.
EXTRA_OEMAKE = "BUILD=${B} PREFIX=${prefix} LIBDIR=${libdir} \
                INCLUDEDIR=${includedir} DATADIR=${datadir} \
                SYSCONFDIR=${sysconfdir} \
                MODULESDIR=${modulesdir} ENGINESDIR=${enginesdir} \
                TEEC_CFLAGS= TEEC_LIBS=-lteec IN_TREE_RPATH= \
               "

do_configure() {
    for v in modulesdir enginesdir; do
        want=$(eval echo \$$v)
        got=$(pkg-config --variable=$v libcrypto)
        got=${got#${PKG_CONFIG_SYSROOT_DIR}}
        [ "$got" = "$want" ] || bbfatal "libcrypto.pc has $v=$got, the recipe ships $want"
    done
}

do_compile() {
    oe_runmake -C ${S}/engine all
}

do_install() {
    oe_runmake -C ${S} install DESTDIR=${D}
}

FILES:${PN} += "${libdir}/libopteetls.so.1 \
                ${modulesdir}/optee.so \
                ${enginesdir}/optee.so \
                ${datadir}/optee-tls/optee-provider.cnf \
                ${datadir}/optee-tls/optee-provider.conf.d.cnf \
                ${datadir}/optee-tls/optee-engine.cnf \
                ${datadir}/optee-tls/optee-engine.conf.d.cnf \
                ${sysconfdir}/ssl/openssl.cnf.d/optee-provider.cnf \
               "
FILES:${PN}-dev += "${libdir}/libopteetls.so \
                    ${includedir}/optee_tls.h \
                    ${includedir}/optee_tls_ta.h \
                   "
CONFFILES:${PN} = "${sysconfdir}/ssl/openssl.cnf.d/optee-provider.cnf"

# The provider reaches keys through the TA and tee-supplicant.
RDEPENDS:${PN} = "optee-client"
RRECOMMENDS:${PN} = "optee-tls-ta"

# Talks to a TEE on the target; nothing to run on the build host.
BBCLASSEXTEND = ""
