/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tee-simd internals shared by daemon.c (listener, children, signals),
 * daemon_instance.c (one TA instance per connection) and daemon_ctl.c
 * (control requests).
 */
#ifndef SIM_DAEMON_H
#define SIM_DAEMON_H

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sim_runtime.h"
#include "simwire.h"

#define SIMD_VERSION		"1"
/* Connections (and so TA instances) alive at once. */
#define SIMD_MAX_CONN		512
/* Default share of them one non-root uid may hold (--max-per-uid): a local
 * user must not be able to take every slot and lock the others out. */
#define SIMD_DEFAULT_MAX_PER_UID	64
/* Exit status of an instance that ended through sim_instance_panic(). */
#define SIMD_EXIT_PANIC		101
/* Code sim_instance_panic() gets when tee-sim-ctl panic-instances asks. */
#define SIMD_CTL_PANIC_CODE	0xDEADu

/* One child process of the daemon (connection). */
struct simd_slot {
	atomic_int pid;		/* 0 free, -1 reserved, else the child */
	atomic_int is_ta;	/* the child has become a TA instance */
	uid_t uid;		/* the peer's uid (set by the parent only) */
};

/* Everything every process of one daemon shares (MAP_SHARED). */
struct simd_shared {
	struct sim_counters counters;
	struct simd_slot slots[SIMD_MAX_CONN];
};

struct simd_config {
	const char *socket_path;
	const char *store_dir;		/* absolute */
	uint8_t huk[32];
	int without_ta;
	int core_mbedtls;		/* --core-crypto mbedtls */
	int verbose;
	int max_per_uid;		/* connections per non-root uid */
	uid_t daemon_euid;		/* after any privilege drop */
};

extern struct simd_shared *simd_shared;
extern struct simd_config simd_cfg;

/* Log one line "tee-simd[pid]: ..." to stderr (one write). */
void simd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Send a reply without parameters (and optional text). 0 or -1. */
int simd_reply_simple(int fd, uint32_t result, uint32_t origin,
		      const char *text);

/* In a connection child: serve the connection, never returns. */
void simd_serve_connection(int fd, int slot) __attribute__((noreturn));

/* Control requests (daemon_ctl.c); payload already read. */
void simd_ctl_handle(int fd, uint16_t type, uint32_t len,
		     uid_t peer_uid) __attribute__((noreturn));

#endif /* SIM_DAEMON_H */
