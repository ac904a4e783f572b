/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Contract between the simulator's two halves:
 *  - the daemon (sim/src/daemon*.c): sockets, one forked child process per
 *    TA instance (session), client identity, control requests;
 *  - the host Internal Core API (sim/src/tee_api_*.c): what the TA calls.
 * Both run inside the instance process after fork.
 */
#ifndef SIM_RUNTIME_H
#define SIM_RUNTIME_H

#include <stdint.h>
#include <stdatomic.h>
#include <tee_internal_api.h>

/* Counters shared by every process of one simulator (MAP_SHARED). */
struct sim_counters {
	atomic_ulong sessions_opened;
	atomic_ulong ta_invocations;	/* TA_InvokeCommandEntryPoint calls */
	atomic_ulong storage_opens;	/* TEE_OpenPersistentObject calls */
	atomic_ulong storage_creates;	/* TEE_CreatePersistentObject calls */
	atomic_ulong storage_deletes;
	atomic_ulong panics;		/* instances ended by TEE_Panic/crash */
};
extern struct sim_counters *sim_counters;

/* Set by the daemon in the instance process before TA_CreateEntryPoint. */
struct sim_instance_config {
	const char *store_dir;		/* root of simulated secure storage */
	uint8_t huk[32];		/* simulated hardware unique key */
	TEE_UUID ta_uuid;
	TEE_Identity client;		/* login + client UUID (Linux tee rules) */
	int core_mbedtls;		/* OP-TEE core built with
					 * CFG_CRYPTOLIB_NAME=mbedtls */
};
void sim_instance_init(const struct sim_instance_config *cfg);

/* Implemented by the daemon: report the panic to the client (the session
 * becomes TEE_ERROR_TARGET_DEAD) and end this instance process. */
void sim_instance_panic(uint32_t code) __attribute__((noreturn));

#endif
