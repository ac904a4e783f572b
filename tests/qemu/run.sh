#!/bin/bash
# Run optee-tls on real OP-TEE under qemu-system-aarch64 (TF-A + OP-TEE OS +
# Debian's arm64 kernel and packages), and bring the results back.
# Not part of `make check`: it needs the network (sources, Debian arm64
# packages) and a lot of CPU. Nothing it fetches or builds goes into the
# repository: everything lives under $WORK.
#
#   tests/qemu/run.sh [step...]      steps: sources optee ta client debs
#                                    kernel nw tfa rootfs dtb boot (default:
#                                    all of them, in that order)
# Variables (environment):
#   WORK          work directory (default /tmp/optee-tls-qemu)
#   OPTEE_OS      optee_os checkout    } default: shallow clones of the
#   OPTEE_CLIENT  optee_client checkout}  pinned tags below into $WORK/src
#   TFA           TF-A checkout        }
#   OPTEE_REV=d5001fe0a... (optee_os commit)  OPTEE_TAG=4.10.0 (optee_client)
#   TFA_TAG=v2.15.0
#   CORE_CRYPTO   tomcrypt | mbedtls   OP-TEE core crypto library
#                                      (CFG_CRYPTOLIB_NAME; default tomcrypt)
#   TA_CRYPTO     gp | mbedtls         our TA's backend (default gp)
#   GUEST         smoke | bench        what the guest runs (default bench)
#   JOBS=2  NICE=10  QEMU_TIMEOUT=3600 (seconds)  SMP=2  MEM=2048
# Needs (Debian 12/13 host, root for apt): gcc-aarch64-linux-gnu,
# qemu-system-arm, device-tree-compiler, python3-pyelftools,
# python3-cryptography, cmake, git, cpio; `apt-get` with arm64 enabled
# (the debs step runs `dpkg --add-architecture arm64`).
set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${WORK:-/tmp/optee-tls-qemu}
# optee_os: the 4.10.0 tag panicked in the core on the first REE FS write
# in this setup ("Failed to commit dirh counter"); this later master commit
# (4.10.0-257) runs everything.
OPTEE_REV=${OPTEE_REV:-d5001fe0af66a4c059dc6816a7be08d7fb83ff1a}
OPTEE_TAG=${OPTEE_TAG:-4.10.0}	# optee_client
TFA_TAG=${TFA_TAG:-v2.15.0}
CORE_CRYPTO=${CORE_CRYPTO:-tomcrypt}
TA_CRYPTO=${TA_CRYPTO:-gp}
GUEST=${GUEST:-bench}
JOBS=${JOBS:-2}
NICE=${NICE:-10}
QEMU_TIMEOUT=${QEMU_TIMEOUT:-3600}
SMP=${SMP:-2}
MEM=${MEM:-2048}
# OP-TEE's build scripts need pyelftools and cryptography: Debian's python3.
PYTHON3=${PYTHON3:-/usr/bin/python3}
CROSS=aarch64-linux-gnu-
UUID=$(sed -n 's/^#define OTLS_TA_UUID_STR "\(.*\)"/\1/p' \
	"$TOP/ta/include/optee_tls_ta.h")
# Guest packages (Debian arm64) and their dependencies.
GUEST_DEBS="busybox-static openssl nginx libengine-pkcs11-openssl opensc
	libssl3"
# Machine options: the DTB must be dumped with exactly these (and -bios).
MACHINE_PROPS=virt,secure=on,virtualization=off,gic-version=2
MACHINE="-cpu cortex-a57 -smp $SMP -m $MEM"

OUT_OPTEE=$WORK/out/optee_os-$CORE_CRYPTO
OUT_TA=$WORK/out/ta-$TA_CRYPTO-$CORE_CRYPTO
OUT_CLIENT=$WORK/out/optee_client
OUT_NW=$WORK/out/nw
ROOTFS=$WORK/rootfs-$TA_CRYPTO-$CORE_CRYPTO
RESULTS=$WORK/results/$CORE_CRYPTO-core-$TA_CRYPTO-ta-$GUEST

run() { echo "+ $*" >&2; nice -n "$NICE" "$@"; }
log() { echo "== $*" >&2; }

step_sources() {
	mkdir -p "$WORK/src"
	if [ -z "${OPTEE_OS:-}" ]; then
		OPTEE_OS=$WORK/src/optee_os
		if [ ! -d "$OPTEE_OS" ]; then
			git init -q "$OPTEE_OS"
			git -C "$OPTEE_OS" fetch -q --depth 1 \
				https://github.com/OP-TEE/optee_os "$OPTEE_REV"
			git -C "$OPTEE_OS" checkout -q FETCH_HEAD
		fi
	fi
	if [ -z "${OPTEE_CLIENT:-}" ]; then
		OPTEE_CLIENT=$WORK/src/optee_client
		[ -d "$OPTEE_CLIENT" ] || git clone --depth 1 --branch \
			"$OPTEE_TAG" https://github.com/OP-TEE/optee_client \
			"$OPTEE_CLIENT"
	fi
	if [ -z "${TFA:-}" ]; then
		TFA=$WORK/src/tf-a
		[ -d "$TFA" ] || git clone --depth 1 --branch "$TFA_TAG" \
			https://github.com/ARM-software/arm-trusted-firmware "$TFA"
	fi
	export OPTEE_OS OPTEE_CLIENT TFA
}

step_optee() {
	log "OP-TEE OS ($CORE_CRYPTO core)"
	run make -C "$OPTEE_OS" -j"$JOBS" O="$OUT_OPTEE" \
		PLATFORM=vexpress-qemu_armv8a CFG_ARM64_core=y \
		CFG_USER_TA_TARGETS=ta_arm64 CROSS_COMPILE64=$CROSS \
		CROSS_COMPILE_core=$CROSS CROSS_COMPILE_ta_arm64=$CROSS \
		CFG_CRYPTOLIB_NAME="$CORE_CRYPTO" \
		CFG_CRYPTOLIB_DIR="$([ "$CORE_CRYPTO" = mbedtls ] && \
			echo lib/libmbedtls || echo core/lib/libtomcrypt)" \
		CFG_PKCS11_TA=y CFG_TEE_CORE_LOG_LEVEL=2 PYTHON3="$PYTHON3" \
		CFG_TEE_TA_LOG_LEVEL=1 all
}

step_ta() {
	log "optee-tls TA (CFG_OPTEE_TLS_CRYPTO=$TA_CRYPTO)"
	run make -C "$TOP/ta" -j"$JOBS" O="$OUT_TA" CROSS_COMPILE=$CROSS \
		TA_DEV_KIT_DIR="$OUT_OPTEE/export-ta_arm64" \
		CFG_OPTEE_TLS_CRYPTO="$TA_CRYPTO" PYTHON3="$PYTHON3"
}

step_client() {
	log "optee_client (libteec, libckteec, tee-supplicant)"
	mkdir -p "$OUT_CLIENT"
	run cmake -S "$OPTEE_CLIENT" -B "$OUT_CLIENT" \
		-DCMAKE_C_COMPILER=${CROSS}gcc -DCMAKE_SYSTEM_NAME=Linux \
		-DCMAKE_SYSTEM_PROCESSOR=aarch64 -DCMAKE_INSTALL_PREFIX=/usr \
		-DCMAKE_INSTALL_LIBDIR=lib/aarch64-linux-gnu \
		-DCFG_WERROR=OFF -DWITH_TEEACL=OFF -DWITH_ASTEEC=OFF \
		-DCFG_TEE_SUPP_PLUGINS=OFF -DCFG_ENABLE_SYSTEMD=OFF \
		-DCFG_ENABLE_UDEV=OFF -DRPMB_EMU=OFF >/dev/null
	run make -C "$OUT_CLIENT" -j"$JOBS"
	rm -rf "$OUT_CLIENT/dest"
	run make -C "$OUT_CLIENT" install DESTDIR="$OUT_CLIENT/dest" >/dev/null
}

# Debian arm64 packages: the kernel, the guest userland and the arm64
# libssl-dev to cross-build our normal-world code against.
step_debs() {
	log "Debian arm64 packages"
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		dpkg --add-architecture arm64
		apt-get update -qq
	fi
	dpkg -s libssl-dev:arm64 >/dev/null 2>&1 || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			libssl-dev:arm64
	mkdir -p "$WORK/debs"
	local kpkg want
	kpkg=$(apt-cache depends linux-image-arm64:arm64 | \
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ :]*\).*/\1/p' | head -1)
	echo "$kpkg" > "$WORK/debs/kernel-package"
	# Dependency closure of the guest packages: apt-cache names arm64
	# packages "name:arm64" and architecture-independent ones "name".
	want=$(for p in $GUEST_DEBS; do
		apt-cache depends --recurse --no-recommends --no-suggests \
			--no-conflicts --no-breaks --no-replaces --no-enhances \
			"$p:arm64"; done | grep -v '^ ' | grep -v '^<' | sort -u |
		while read -r n; do
			# Multi-Arch: foreign dependencies come back native.
			case $n in
			*:*) echo "$n" ;;
			*) if apt-cache show --no-all-versions "$n:arm64" \
				2>/dev/null | grep -qx 'Architecture: arm64'
			   then echo "$n:arm64"; else echo "$n"; fi ;;
			esac
		done | sort -u)
	rm -f "$WORK"/debs/*.deb
	# shellcheck disable=SC2086
	(cd "$WORK/debs" && apt-get download -qq "$kpkg:arm64" $want)
	# Names apt-cache gave without an architecture may have come down as
	# the host's: fetch their arm64 builds instead.
	(cd "$WORK/debs" && for d in *.deb; do
		case $d in *_arm64.deb|*_all.deb) ;;
		*) rm -f "$d"; echo "${d%%_*}:arm64" ;; esac
	done | sort -u | xargs -r apt-get download -qq)
}

step_kernel() {
	log "kernel and TEE modules"
	local kpkg deb
	kpkg=$(cat "$WORK/debs/kernel-package")
	deb=$(ls "$WORK/debs/${kpkg}"_*_arm64.deb | head -1)
	rm -rf "$WORK/kernel" && mkdir -p "$WORK/kernel"
	dpkg-deb -x "$deb" "$WORK/kernel"
	cp "$WORK/kernel"/boot/vmlinuz-* "$WORK/Image"
}

step_nw() {
	log "normal world: libopteetls, provider, ENGINE, sign_bench (arm64)"
	local pc="PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig"
	rm -rf "$OUT_NW"
	run env $pc make -C "$TOP/engine" BUILD="$OUT_NW" CC=${CROSS}gcc \
		TEEC_CFLAGS="-I$OPTEE_CLIENT/libteec/include" \
		TEEC_LIBS="-L$OUT_CLIENT/dest/usr/lib/aarch64-linux-gnu -lteec" \
		IN_TREE_RPATH= install DESTDIR="$OUT_NW/dest"
	run ${CROSS}gcc -std=c11 -D_GNU_SOURCE -O2 \
		-I"$TOP/engine/include" -I"$TOP/ta/include" \
		-I"$OPTEE_CLIENT/libteec/include" \
		"$TOP/scripts/bench/sign_bench.c" -o "$OUT_NW/sign_bench" \
		-L"$OUT_NW/lib" -L"$OUT_CLIENT/dest/usr/lib/aarch64-linux-gnu" \
		-lopteetls -lteec -lcrypto
}

step_tfa() {
	log "TF-A with OP-TEE as BL32 and the kernel as BL33"
	local b="$OUT_OPTEE/core"
	run make -C "$TFA" -j"$JOBS" CROSS_COMPILE=$CROSS PLAT=qemu \
		BUILD_BASE="$WORK/out/tf-a-$CORE_CRYPTO" SPD=opteed \
		BL32_RAM_LOCATION=tdram BL32="$b/tee-header_v2.bin" \
		BL32_EXTRA1="$b/tee-pager_v2.bin" \
		BL32_EXTRA2="$b/tee-pageable_v2.bin" BL33="$WORK/Image" \
		ARM_LINUX_KERNEL_AS_BL33=1 all fip
	# BL1 + FIP in one flash image, as QEMU's -bios wants it.
	cp "$WORK/out/tf-a-$CORE_CRYPTO/qemu/release/qemu_fw.bios" \
		"$WORK/qemu_fw-$CORE_CRYPTO.bios"
}

step_rootfs() {
	log "initramfs"
	rm -rf "$ROOTFS" && mkdir -p "$ROOTFS"
	local kpkg d
	kpkg=$(cat "$WORK/debs/kernel-package")
	for d in "$WORK"/debs/*.deb; do
		case "$(basename "$d")" in "${kpkg}"_*) continue ;; esac
		dpkg-deb -x "$d" "$ROOTFS"
	done
	# Usr-merged layout as Debian has it.
	for d in bin sbin lib; do
		if [ -d "$ROOTFS/$d" ] && [ ! -L "$ROOTFS/$d" ]; then
			cp -a "$ROOTFS/$d/." "$ROOTFS/usr/$d/"
			rm -rf "${ROOTFS:?}/$d"
		fi
		ln -sfn "usr/$d" "$ROOTFS/$d"
	done
	mkdir -p "$ROOTFS"/{proc,sys,dev,tmp,run,data/tee,var/log/nginx} \
		"$ROOTFS/lib/optee_armtz" "$ROOTFS/modules" "$ROOTFS/otls"
	find "$WORK/kernel/lib/modules" \( -name tee.ko -o -name optee.ko \) \
		-exec cp {} "$ROOTFS/modules/" \;
	cp "$OUT_TA/$UUID.ta" "$ROOTFS/lib/optee_armtz/"
	cp "$OUT_OPTEE"/ta/pkcs11/*.ta "$ROOTFS/lib/optee_armtz/" 2>/dev/null \
		|| true
	cp -a "$OUT_CLIENT/dest/." "$ROOTFS/"
	cp -a "$OUT_NW/dest/." "$ROOTFS/"
	cp "$OUT_NW/sign_bench" "$ROOTFS/otls/"
	cp "$TOP/tests/qemu/guest.sh" "$ROOTFS/otls/guest.sh"
	printf 'GUEST=%s\nTA_CRYPTO=%s\nCORE_CRYPTO=%s\n' "$GUEST" \
		"$TA_CRYPTO" "$CORE_CRYPTO" > "$ROOTFS/otls/config"
	cat > "$ROOTFS/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mkdir -p /usr/local/bin
/bin/busybox --install -s /usr/local/bin
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/bin
mount -t proc proc /proc; mount -t sysfs sys /sys
mount -t devtmpfs dev /dev; mount -t tmpfs tmp /tmp
echo "root:x:0:0:root:/root:/bin/sh" > /etc/passwd
echo "root:x:0:" > /etc/group
echo "nogroup:x:65534:" >> /etc/group
echo "127.0.0.1 localhost" > /etc/hosts
ifconfig lo 127.0.0.1 up
insmod /modules/tee.ko && insmod /modules/optee.ko
tee-supplicant -d
sh /otls/guest.sh
poweroff -f
EOF
	chmod 755 "$ROOTFS/init"
	(cd "$ROOTFS" && find . | cpio -o -H newc 2>/dev/null | gzip -1) \
		> "$WORK/initrd-$TA_CRYPTO-$CORE_CRYPTO.cpio.gz"
}

step_dtb() {
	log "device tree with the initramfs"
	local bios="$WORK/qemu_fw-$CORE_CRYPTO.bios"
	local initrd="$WORK/initrd-$TA_CRYPTO-$CORE_CRYPTO.cpio.gz"
	local size end
	# shellcheck disable=SC2086
	qemu-system-aarch64 -machine "$MACHINE_PROPS,dumpdtb=$WORK/virt.dtb" \
		$MACHINE -bios "$bios" \
		-display none 2>/dev/null
	size=$(stat -c %s "$initrd")
	end=$(printf '0x%x' $((0x48000000 + size)))
	dtc -q -I dtb -O dts "$WORK/virt.dtb" | sed "/chosen {/a\\
		bootargs = \"console=ttyAMA0 rdinit=/init quiet\";\\
		linux,initrd-start = <0x00 0x48000000>;\\
		linux,initrd-end = <0x00 $end>;" | \
		dtc -q -I dts -O dtb -o "$WORK/virt-$TA_CRYPTO-$CORE_CRYPTO.dtb"
}

step_boot() {
	log "boot (timeout ${QEMU_TIMEOUT}s); serial logs in $RESULTS"
	mkdir -p "$RESULTS"
	# shellcheck disable=SC2086
	timeout "$QEMU_TIMEOUT" qemu-system-aarch64 -machine "$MACHINE_PROPS" \
		$MACHINE \
		-bios "$WORK/qemu_fw-$CORE_CRYPTO.bios" \
		-dtb "$WORK/virt-$TA_CRYPTO-$CORE_CRYPTO.dtb" \
		-device loader,file="$WORK/initrd-$TA_CRYPTO-$CORE_CRYPTO.cpio.gz",addr=0x48000000,force-raw=on \
		-display none -monitor none -serial file:"$RESULTS/ns.log" \
		-serial file:"$RESULTS/secure.log" || true
	# The guest prints its results between two markers, base64 of a tar.
	sed -n '/^==OTLS-RESULTS-BEGIN==/,/^==OTLS-RESULTS-END==/p' \
		"$RESULTS/ns.log" | sed '1d;$d' | tr -d '\r' | base64 -d | \
		tar -xz -C "$RESULTS" || { log "no results in ns.log"; exit 1; }
	cat "$RESULTS"/results.txt
}

steps=${*:-"sources optee ta client debs kernel nw tfa rootfs dtb boot"}
step_sources
for s in $steps; do
	"step_$s"
done
