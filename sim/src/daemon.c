// SPDX-License-Identifier: BSD-2-Clause
/*
 * tee-simd: the simulated secure world of optee-tls.
 *
 * The daemon listens on a Unix socket. Every connection is served by its
 * own forked child: a control request (tee-sim-ctl, libteec's probe) or one
 * session = one TA instance (daemon_instance.c). The parent only accepts,
 * forks and reaps; it never reads a client's bytes, so no client can stall
 * or crash it. Counters and the table of children live in a MAP_SHARED
 * mapping made before any fork.
 */
#include "daemon.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

struct sim_counters *sim_counters;
struct simd_shared *simd_shared;
struct simd_config simd_cfg;

static volatile sig_atomic_t got_sigchld;
static volatile sig_atomic_t got_sigterm;
static int shutting_down;
static int listen_fd = -1;
static pid_t daemon_pid;
static const char *pidfile_path;
static int socket_created;

void simd_log(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "tee-simd[%d]: ", (int)getpid());
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* Nothing better to do. */
	}
}

int simd_reply_simple(int fd, uint32_t result, uint32_t origin,
		      const char *text)
{
	struct simwire_reply rep;
	struct simwire_chunk c;

	memset(&rep, 0, sizeof(rep));
	rep.result = result;
	rep.origin = origin;
	c.data = text;
	c.len = text ? strlen(text) : 0;
	return simwire_send(fd, SIMWIRE_REPLY, &rep, sizeof(rep), &c,
			    text ? 1 : 0);
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: tee-simd --socket PATH --store DIR [options]\n"
"\n"
"Simulated OP-TEE secure world for optee-tls: one process per TA session.\n"
"\n"
"  --socket PATH    Unix socket to listen on (clients: OPTEE_SIM_SOCKET=PATH)\n"
"  --store DIR      secure storage directory (created, mode 0700)\n"
"  --huk HEX64      hardware unique key, 64 hex digits (default: all zero,\n"
"                   as OP-TEE on QEMU and Raspberry Pi 3)\n"
"  --user NAME      when root: give the store to NAME and run as NAME after\n"
"                   binding the socket\n"
"  --without-ta     behave as a TEE on which the optee-tls TA is not\n"
"                   installed (OpenSession: TEEC_ERROR_ITEM_NOT_FOUND)\n"
"  --core-crypto LIB  the OP-TEE core's crypto library: tomcrypt (default)\n"
"                   or mbedtls (CFG_CRYPTOLIB_NAME=mbedtls: no raw-DigestInfo\n"
"                   PKCS#1 v1.5 signing, TEE_ALG_RSASSA_PKCS1_V1_5)\n"
"  --pidfile FILE   write the daemon's pid once it accepts connections\n"
"  --max-per-uid N  connections (sessions) one non-root uid may hold at\n"
"                   once, 1..512 (default %d; the daemon holds 512)\n"
"  --verbose        log sessions (identity, instance pid) to stderr\n"
"  --help, --version\n", SIMD_DEFAULT_MAX_PER_UID);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int parse_huk(const char *s, uint8_t huk[32])
{
	size_t i;

	if (strlen(s) != 64)
		return -1;
	for (i = 0; i < 32; i++) {
		int hi = hexval((unsigned char)s[2 * i]);
		int lo = hexval((unsigned char)s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		huk[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("tee-simd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* mkdir -p with mode for the last component; parents get 0755. */
static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t len = strlen(path);
	char *p;

	if (len == 0 || len >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, len + 1);
	while (len > 1 && tmp[len - 1] == '/')
		tmp[--len] = '\0';
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, mode) && errno != EEXIST)
		return -1;
	return 0;
}

static void on_sigchld(int sig)
{
	(void)sig;
	got_sigchld = 1;
}

static void on_sigterm(int sig)
{
	(void)sig;
	got_sigterm = 1;
}

static int find_slot(pid_t pid)
{
	int i;

	for (i = 0; i < SIMD_MAX_CONN; i++)
		if (atomic_load(&simd_shared->slots[i].pid) == pid)
			return i;
	return -1;
}

static void reap_children(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		int i = find_slot(pid);
		int was_ta;

		if (i < 0)
			continue;
		was_ta = atomic_load(&simd_shared->slots[i].is_ta);
		if (was_ta && WIFSIGNALED(status) && !shutting_down) {
			/* A crash (or a kill) of a TA instance is a panic. */
			atomic_fetch_add(&sim_counters->panics, 1);
			simd_log("TA instance %d ended by signal %d (%s): "
				 "counted as a TA panic", (int)pid,
				 WTERMSIG(status), strsignal(WTERMSIG(status)));
		} else if (was_ta && simd_cfg.verbose) {
			simd_log("TA instance %d ended (status %d)", (int)pid,
				 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		}
		atomic_store(&simd_shared->slots[i].is_ta, 0);
		atomic_store(&simd_shared->slots[i].pid, 0);
	}
}

/* Child side of a fork: become a plain worker for one connection. */
static void child_setup(void)
{
	sigset_t unblock;
	struct sigaction sa;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != daemon_pid)
		_exit(0);	/* the daemon is already gone */

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* SIGUSR1 stays blocked: the instance waits for it at safe points. */
	sigemptyset(&unblock);
	sigaddset(&unblock, SIGCHLD);
	sigaddset(&unblock, SIGTERM);
	sigaddset(&unblock, SIGINT);
	sigaddset(&unblock, SIGHUP);
	sigprocmask(SIG_UNBLOCK, &unblock, NULL);
}

/* Refuse a connection before any child serves it. */
static void refuse(int cfd, const char *why)
{
	/* Non-blocking: a full socket buffer must not stall us. */
	fcntl(cfd, F_SETFL, O_NONBLOCK);
	simd_reply_simple(cfd, SIMWIRE_ERR_BUSY, SIMWIRE_ORIGIN_TEE, why);
	close(cfd);
}

/* Connections a uid holds now (reserved or running). */
static int held_by(uid_t uid)
{
	int i, n = 0;

	for (i = 0; i < SIMD_MAX_CONN; i++)
		if (atomic_load(&simd_shared->slots[i].pid) != 0 &&
		    simd_shared->slots[i].uid == uid)
			n++;
	return n;
}

static void spawn(int cfd)
{
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	int slot = -1;
	pid_t pid;
	int i;

	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen)) {
		simd_log("refusing a connection: SO_PEERCRED: %s",
			 strerror(errno));
		close(cfd);
		return;
	}
	/* Children that ended since the last wait no longer hold a slot. */
	reap_children();
	if (cr.uid != 0 && held_by(cr.uid) >= simd_cfg.max_per_uid) {
		refuse(cfd, "too many sessions for this user");
		simd_log("refusing a connection from uid %u (pid %d): it holds "
			 "%d connections already (--max-per-uid)",
			 (unsigned int)cr.uid, (int)cr.pid,
			 simd_cfg.max_per_uid);
		return;
	}
	for (i = 0; i < SIMD_MAX_CONN; i++) {
		int expected = 0;

		if (atomic_compare_exchange_strong(&simd_shared->slots[i].pid,
						   &expected, -1)) {
			slot = i;
			simd_shared->slots[i].uid = cr.uid;
			break;
		}
	}
	if (slot < 0) {
		refuse(cfd, "too many sessions");
		simd_log("refusing a connection: %d connections already open",
			 SIMD_MAX_CONN);
		return;
	}

	pid = fork();
	if (pid == 0) {
		close(listen_fd);
		child_setup();
		atomic_store(&simd_shared->slots[slot].pid, (int)getpid());
		simd_serve_connection(cfd, slot);
	}
	if (pid < 0) {
		int e = errno;

		fcntl(cfd, F_SETFL, O_NONBLOCK);
		simd_reply_simple(cfd, SIMWIRE_ERR_OUT_OF_MEMORY,
				  SIMWIRE_ORIGIN_TEE, "fork failed");
		simd_log("fork failed: %s", strerror(e));
		atomic_store(&simd_shared->slots[slot].pid, 0);
	} else {
		atomic_store(&simd_shared->slots[slot].pid, (int)pid);
	}
	close(cfd);
}

/* Remove a stale socket file; refuse to replace a live daemon's. */
static void prepare_socket_path(const char *path)
{
	struct stat st;
	int fd;

	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return;
		die("cannot stat socket path %s: %s", path, strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		die("%s exists and is not a socket; not touching it", path);
	fd = simwire_connect(path, 1);
	if (fd >= 0) {
		close(fd);
		die("another daemon already listens on %s", path);
	}
	if (unlink(path))
		die("cannot remove stale socket %s: %s", path,
		    strerror(errno));
}

static void make_listener(const char *path)
{
	struct sockaddr_un addr;
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(addr.sun_path))
		die("socket path too long (max %zu bytes): %s",
		    sizeof(addr.sun_path) - 1, path);
	prepare_socket_path(path);

	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	memcpy(addr.sun_path, path, len + 1);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0)
		die("socket: %s", strerror(errno));
	if (bind(listen_fd, (struct sockaddr *)&addr, sizeof(addr)))
		die("cannot bind %s: %s", path, strerror(errno));
	socket_created = 1;
	/* Every local user may talk to the TEE, as with /dev/tee0 (0666 on
	 * most distributions); the TA decides who may use which key. */
	if (chmod(path, 0666))
		die("chmod %s: %s", path, strerror(errno));
	if (listen(listen_fd, SOMAXCONN))
		die("listen: %s", strerror(errno));
}

static void cleanup_files(void)
{
	if (socket_created && simd_cfg.socket_path &&
	    unlink(simd_cfg.socket_path) && errno != ENOENT && simd_cfg.verbose)
		simd_log("could not remove %s: %s", simd_cfg.socket_path,
			 strerror(errno));
	if (pidfile_path)
		unlink(pidfile_path);
}

static void shutdown_children(void)
{
	int i;

	shutting_down = 1;
	for (i = 0; i < SIMD_MAX_CONN; i++) {
		int pid = atomic_load(&simd_shared->slots[i].pid);

		if (pid > 0)
			kill(pid, SIGKILL);
	}
	/* SIGKILL is certain: wait for every child. */
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
}

static void write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f))
		die("cannot write pidfile %s: %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "store", required_argument, NULL, 'd' },
		{ "huk", required_argument, NULL, 'k' },
		{ "user", required_argument, NULL, 'u' },
		{ "without-ta", no_argument, NULL, 'W' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "core-crypto", required_argument, NULL, 'C' },
		{ "max-per-uid", required_argument, NULL, 'm' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *store = NULL;
	const char *user = NULL;
	uid_t run_uid = 0;
	gid_t run_gid = 0;
	char store_abs[PATH_MAX];
	struct sigaction sa;
	sigset_t block, waitmask;
	int c;

	simd_cfg.max_per_uid = SIMD_DEFAULT_MAX_PER_UID;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			simd_cfg.socket_path = optarg;
			break;
		case 'd':
			store = optarg;
			break;
		case 'k':
			if (parse_huk(optarg, simd_cfg.huk))
				die("--huk wants exactly 64 hex digits "
				    "(32 bytes)");
			break;
		case 'u':
			user = optarg;
			break;
		case 'W':
			simd_cfg.without_ta = 1;
			break;
		case 'p':
			pidfile_path = optarg;
			break;
		case 'C':
			if (!strcmp(optarg, "mbedtls"))
				simd_cfg.core_mbedtls = 1;
			else if (strcmp(optarg, "tomcrypt"))
				die("--core-crypto wants tomcrypt or mbedtls");
			break;
		case 'v':
			simd_cfg.verbose = 1;
			break;
		case 'm': {
			char *end;
			long n;

			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || n < 1 ||
			    n > SIMD_MAX_CONN)
				die("--max-per-uid wants a number from 1 to %d",
				    SIMD_MAX_CONN);
			simd_cfg.max_per_uid = (int)n;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("tee-simd %s\n", SIMD_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "tee-simd: unexpected argument: %s\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!simd_cfg.socket_path || !store) {
		fprintf(stderr, "tee-simd: --socket and --store are required\n");
		usage(stderr);
		return 2;
	}

	if (user) {
		struct passwd *pw = getpwnam(user);

		if (!pw)
			die("--user %s: no such user", user);
		run_uid = pw->pw_uid;
		run_gid = pw->pw_gid;
		if (geteuid() != 0 && geteuid() != run_uid)
			die("--user %s needs root (running as uid %u)", user,
			    (unsigned int)geteuid());
	}

	/* Secure storage: private to the daemon's user. */
	if (mkdir_p(store, 0700))
		die("cannot create store directory %s: %s", store,
		    strerror(errno));
	if (!realpath(store, store_abs))
		die("store directory %s: %s", store, strerror(errno));
	if (user && geteuid() == 0 &&
	    chown(store_abs, run_uid, run_gid))
		die("chown %s to %s: %s", store_abs, user, strerror(errno));
	if (chmod(store_abs, 0700))
		die("chmod %s: %s", store_abs, strerror(errno));
	simd_cfg.store_dir = store_abs;

	simd_shared = mmap(NULL, sizeof(*simd_shared), PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (simd_shared == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	sim_counters = &simd_shared->counters;
	daemon_pid = getpid();

	/* Signals are only taken while waiting in ppoll(). */
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGCHLD);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGHUP);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigchld;
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = on_sigterm;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	make_listener(simd_cfg.socket_path);

	if (user && geteuid() == 0 && run_uid != 0) {
		if (setgroups(0, NULL) || setgid(run_gid) || setuid(run_uid)) {
			cleanup_files();
			die("cannot drop privileges to %s: %s", user,
			    strerror(errno));
		}
		if (setuid(0) == 0) {
			cleanup_files();
			die("privileges still present after dropping to %s",
			    user);
		}
	}
	simd_cfg.daemon_euid = geteuid();
	if (access(simd_cfg.store_dir, R_OK | W_OK | X_OK)) {
		int e = errno;

		cleanup_files();
		die("store directory %s is not usable by uid %u: %s (with "
		    "--user, every parent directory must be searchable by "
		    "that user)", simd_cfg.store_dir,
		    (unsigned int)geteuid(), strerror(e));
	}

	if (pidfile_path)
		write_pidfile(pidfile_path);
	if (simd_cfg.verbose)
		simd_log("listening on %s, store %s, uid %u%s",
			 simd_cfg.socket_path, simd_cfg.store_dir,
			 (unsigned int)geteuid(),
			 simd_cfg.without_ta ? ", TA not installed" : "");

	while (!got_sigterm) {
		struct pollfd pfd = { .fd = listen_fd, .events = POLLIN };
		int r = ppoll(&pfd, 1, NULL, &waitmask);
		int e = errno;

		if (got_sigchld) {
			got_sigchld = 0;
			reap_children();
		}
		if (r < 0) {
			if (e == EINTR)
				continue;
			simd_log("poll: %s", strerror(e));
			break;
		}
		if (pfd.revents & POLLIN) {
			int cfd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

			if (cfd < 0) {
				if (errno != EINTR && errno != EAGAIN &&
				    errno != ECONNABORTED)
					simd_log("accept: %s", strerror(errno));
				continue;
			}
			spawn(cfd);
		}
	}

	close(listen_fd);
	cleanup_files();
	shutdown_children();
	if (simd_cfg.verbose)
		simd_log("stopped");
	return 0;
}
