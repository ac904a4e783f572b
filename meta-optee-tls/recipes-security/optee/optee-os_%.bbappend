# With conf/include/optee-tls-signing.inc optee-os accepts only TAs
# signed with that key. Unset, this append changes nothing.
EXTRA_OEMAKE:append:optee-tls-signed = " TA_PUBLIC_KEY=${OPTEE_TLS_TA_PUBLIC_KEY}"
do_compile[file-checksums] += "${@'${OPTEE_TLS_TA_PUBLIC_KEY}:True' if d.getVar('OPTEE_TLS_TA_PUBLIC_KEY') else ''}"
