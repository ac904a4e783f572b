// SPDX-License-Identifier: BSD-2-Clause
/*
 * tee-simd control requests, served in a connection child without touching
 * any TA: PING, STATS (counters as JSON), INSTANCES (live TA instance pids,
 * one per line), PANIC_INSTANCES (every live instance panics at its next
 * safe point, i.e. while it waits for a request; the reply comes once they
 * have all ended, and gives how many there were).
 */
#include "daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PANIC_WAIT_MS 30000

static size_t live_instances(pid_t *pids, size_t max)
{
	size_t n = 0;
	int i;

	for (i = 0; i < SIMD_MAX_CONN && n < max; i++) {
		int pid = atomic_load(&simd_shared->slots[i].pid);

		if (pid > 0 && pid != getpid() &&
		    atomic_load(&simd_shared->slots[i].is_ta))
			pids[n++] = pid;
	}
	return n;
}

static int slot_still(pid_t pid)
{
	int i;

	for (i = 0; i < SIMD_MAX_CONN; i++)
		if (atomic_load(&simd_shared->slots[i].pid) == pid)
			return 1;
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void reply_and_exit(int fd, uint32_t result, const char *text)
	__attribute__((noreturn));
static void reply_and_exit(int fd, uint32_t result, const char *text)
{
	simd_reply_simple(fd, result, SIMWIRE_ORIGIN_TEE, text);
	_exit(0);
}

void simd_ctl_handle(int fd, uint16_t type, uint32_t len, uid_t peer_uid)
{
	static pid_t pids[SIMD_MAX_CONN];
	static char text[SIMD_MAX_CONN * 12 + 64];
	const struct sim_counters *c = sim_counters;
	size_t n, i, off = 0;

	if (len)
		reply_and_exit(fd, SIMWIRE_ERR_BAD_PARAMETERS,
			       "control requests carry no payload\n");

	switch (type) {
	case SIMWIRE_CTL_PING:
		reply_and_exit(fd, SIMWIRE_SUCCESS, "tee-simd " SIMD_VERSION "\n");
	case SIMWIRE_CTL_STATS:
		snprintf(text, sizeof(text),
			 "{\"sessions_opened\": %lu, \"ta_invocations\": %lu, "
			 "\"storage_opens\": %lu, \"storage_creates\": %lu, "
			 "\"storage_deletes\": %lu, \"panics\": %lu}\n",
			 atomic_load(&c->sessions_opened),
			 atomic_load(&c->ta_invocations),
			 atomic_load(&c->storage_opens),
			 atomic_load(&c->storage_creates),
			 atomic_load(&c->storage_deletes),
			 atomic_load(&c->panics));
		reply_and_exit(fd, SIMWIRE_SUCCESS, text);
	case SIMWIRE_CTL_INSTANCES:
		n = live_instances(pids, SIMD_MAX_CONN);
		text[0] = '\0';
		for (i = 0; i < n; i++)
			off += (size_t)snprintf(text + off, sizeof(text) - off,
						"%d\n", (int)pids[i]);
		reply_and_exit(fd, SIMWIRE_SUCCESS, text);
	case SIMWIRE_CTL_PANIC_INSTANCES:
		if (peer_uid != 0 && peer_uid != simd_cfg.daemon_euid)
			reply_and_exit(fd, SIMWIRE_ERR_ACCESS_DENIED,
				       "panic-instances: only root or the "
				       "daemon's user may do this\n");
		n = live_instances(pids, SIMD_MAX_CONN);
		for (i = 0; i < n; i++)
			kill(pids[i], SIGUSR1);
		/* Answer once they are all gone, so that the caller's next
		 * call on any old session meets a dead instance. */
		for (long waited = 0; waited < PANIC_WAIT_MS; waited += 2) {
			size_t left = 0;

			for (i = 0; i < n; i++)
				left += (size_t)slot_still(pids[i]);
			if (!left)
				break;
			sleep_ms(2);
		}
		snprintf(text, sizeof(text), "%zu\n", n);
		reply_and_exit(fd, SIMWIRE_SUCCESS, text);
	default:
		reply_and_exit(fd, SIMWIRE_ERR_BAD_PARAMETERS,
			       "unknown control request\n");
	}
}
