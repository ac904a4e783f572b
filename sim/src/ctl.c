// SPDX-License-Identifier: BSD-2-Clause
/*
 * tee-sim-ctl: control requests to a running tee-simd.
 *
 *   tee-sim-ctl [--socket PATH] stats            counters as one JSON object
 *   tee-sim-ctl [--socket PATH] instances        live TA instance pids
 *   tee-sim-ctl [--socket PATH] panic-instances  make them all panic
 *   tee-sim-ctl [--socket PATH] ping             check the daemon answers
 *
 * PATH defaults to $OPTEE_SIM_SOCKET, then /run/tee-sim/socket.
 * Exit status: 0 done, 1 failure (message on stderr), 2 usage.
 */
#include "simwire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tee-sim-ctl [--socket PATH] "
		"{stats|instances|panic-instances|ping}\n"
		"  stats            print the simulator's counters as JSON\n"
		"  instances        print the pids of live TA instances\n"
		"  panic-instances  make every live TA instance panic "
		"(prints how many)\n"
		"  ping             check that tee-simd answers\n"
		"PATH defaults to $" SIMWIRE_SOCKET_ENV " or "
		SIMWIRE_DEFAULT_SOCKET ".\n");
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	const char *cmd = NULL;
	struct simwire_reply rep;
	struct simwire_hdr hdr;
	uint16_t type;
	char *text;
	size_t tlen;
	int fd, i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			path = argv[++i];
		} else if (!strncmp(argv[i], "--socket=", 9)) {
			path = argv[i] + 9;
		} else if (!strcmp(argv[i], "-h") ||
			   !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-' || cmd) {
			usage(stderr);
			return 2;
		} else {
			cmd = argv[i];
		}
	}
	if (!cmd) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(cmd, "stats"))
		type = SIMWIRE_CTL_STATS;
	else if (!strcmp(cmd, "instances"))
		type = SIMWIRE_CTL_INSTANCES;
	else if (!strcmp(cmd, "panic-instances"))
		type = SIMWIRE_CTL_PANIC_INSTANCES;
	else if (!strcmp(cmd, "ping"))
		type = SIMWIRE_CTL_PING;
	else {
		fprintf(stderr, "tee-sim-ctl: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	if (!path)
		path = simwire_socket_path();

	fd = simwire_connect(path, 1);
	if (fd < 0) {
		fprintf(stderr, "tee-sim-ctl: cannot connect to tee-simd at "
			"%s: %s\n", path, strerror(errno));
		return 1;
	}
	if (simwire_send(fd, type, NULL, 0, NULL, 0) ||
	    simwire_recv_hdr(fd, &hdr) || hdr.type != SIMWIRE_REPLY ||
	    hdr.len < sizeof(rep) ||
	    simwire_read_full(fd, &rep, sizeof(rep))) {
		fprintf(stderr, "tee-sim-ctl: no valid answer from %s\n", path);
		return 1;
	}
	tlen = hdr.len - sizeof(rep);
	text = malloc(tlen + 1);
	if (!text || simwire_read_full(fd, text, tlen)) {
		fprintf(stderr, "tee-sim-ctl: truncated answer from %s\n",
			path);
		return 1;
	}
	text[tlen] = '\0';
	close(fd);
	if (rep.result != SIMWIRE_SUCCESS) {
		fprintf(stderr, "tee-sim-ctl: %s failed (0x%08x)%s%s", cmd,
			rep.result, tlen ? ": " : "\n", text);
		free(text);
		return 1;
	}
	fputs(text, stdout);
	free(text);
	return 0;
}
