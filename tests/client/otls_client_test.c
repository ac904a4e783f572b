/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Test driver for libopteetls (tests/test_client.py builds and runs it).
 * Each command prints one JSON object per result line; "rc" is the
 * OTLS_* code, "msg" its otls_strerror text, "tee"/"origin" the thread's
 * last TEE result.
 *
 *   info
 *   gen LABEL TYPE BITS [ALLOWED OWNER_KIND OWNER_ID]
 *   get LABEL | del LABEL | list
 *   sign LABEL ALG SALT HEXTBS [FLAGS [BUFLEN]]
 *   decrypt LABEL ALG HEXIN [BUFLEN]
 *   label STR | uri STR | maxsize TYPE BITS | strerror CODE
 *   ref-encode LABEL | ref-decode-pem FILE | ref-decode-der FILE
 *   fork-sign LABEL ALG NCHILDREN NSIGS HEXTBS
 *   thread-sign LABEL ALG NTHREADS NSIGS HEXTBS
 *   thread-fork LABEL ALG NTHREADS NCHILDREN HEXTBS
 *              (threads sign while the main thread forks children that
 *              sign once and leave with exit(), destructors included)
 *   fork-exit  (info, then a child that leaves with exit() untouched)
 *   repl       (commands from stdin, one per line; "-" is an empty arg)
 * HEX arguments may be "@FILE" (hex text in FILE) for long inputs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "optee_tls.h"

/* One write() per line so lines of concurrent processes never mix. */
static void emit(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		exit(99);
	for (int off = 0; off < n;) {
		ssize_t w = write(1, s + off, (size_t)(n - off));

		if (w < 0) {
			if (errno == EINTR)
				continue;
			exit(99);
		}
		off += (int)w;
	}
	free(s);
}

static char *hex(const unsigned char *p, size_t n)
{
	char *s = malloc(2 * n + 1);

	for (size_t i = 0; i < n; i++)
		sprintf(s + 2 * i, "%02x", p[i]);
	s[2 * n] = 0;
	return s;
}

static int read_file(const char *path, unsigned char **data, size_t *len);

/* Hex argument; "@FILE" reads the hex text from FILE, "-" is empty. */
static unsigned char *unhex(const char *s, size_t *n)
{
	unsigned char *file = NULL, *p;
	size_t len;

	if (s[0] == '@') {
		size_t flen;

		if (read_file(s + 1, &file, &flen)) {
			perror(s + 1);
			exit(2);
		}
		while (flen && (file[flen - 1] == '\n' || file[flen - 1] == ' '))
			flen--;
		file = realloc(file, flen + 1);
		file[flen] = 0;
		s = (const char *)file;
	}
	len = strlen(s);

	if (!strcmp(s, "-"))
		len = 0;
	if (len % 2) {
		fprintf(stderr, "odd hex\n");
		exit(2);
	}
	p = malloc(len / 2 + 1);
	for (size_t i = 0; i < len / 2; i++) {
		unsigned int v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1) {
			fprintf(stderr, "bad hex\n");
			exit(2);
		}
		p[i] = (unsigned char)v;
	}
	*n = len / 2;
	free(file);
	return p;
}

/* JSON string (the input is ASCII text). */
static char *jstr(const char *s)
{
	size_t n = strlen(s);
	char *o = malloc(6 * n + 3), *q = o;

	*q++ = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			*q++ = '\\';
			*q++ = (char)c;
		} else if (c == '\n') {
			*q++ = '\\';
			*q++ = 'n';
		} else if (c < 0x20 || c >= 0x7f) {
			q += sprintf(q, "\\u%04x", c);
		} else {
			*q++ = (char)c;
		}
	}
	*q++ = '"';
	*q = 0;
	return o;
}

static unsigned long num(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	if (*end) {
		fprintf(stderr, "bad number %s\n", s);
		exit(2);
	}
	return v;
}

static const char *arg_str(const char *s)
{
	return strcmp(s, "-") ? s : "";
}

/* Common part of every result line, without the closing brace. */
static char *head(int rc)
{
	char *m = jstr(otls_strerror(rc)), *s = NULL;

	if (asprintf(&s, "{\"rc\": %d, \"msg\": %s, \"tee\": %u, \"origin\": %u",
		     rc, m, otls_last_tee_result(), otls_last_tee_origin()) < 0)
		exit(99);
	free(m);
	return s;
}

static void emit_key(int rc, const otls_key_info *k)
{
	char *h = head(rc);

	if (rc) {
		emit("%s}\n", h);
	} else {
		unsigned char *der = NULL;
		size_t der_len = 0;
		int src = otls_key_spki_der(k, &der, &der_len);
		char *spki = src ? strdup("") : hex(der, der_len);
		char *a = hex(k->pub_a, k->pub_a_len);
		char *b = hex(k->pub_b, k->pub_b_len);

		emit("%s, \"label\": \"%s\", \"type\": %u, \"bits\": %u, "
		     "\"allowed\": %u, \"owner_kind\": %u, \"owner_id\": %u, "
		     "\"spki_rc\": %d, \"spki\": \"%s\", \"pub_a\": \"%s\", "
		     "\"pub_b\": \"%s\", \"max_sig\": %zu}\n",
		     h, k->label, k->key_type, k->bits, k->policy.allowed,
		     k->policy.owner_kind, k->policy.owner_id, src, spki, a, b,
		     otls_sig_max_size(k->key_type, k->bits));
		otls_free(der);
		free(spki);
		free(a);
		free(b);
	}
	free(h);
}

static void do_sign(const char *label, uint32_t alg, uint32_t salt,
		    const unsigned char *tbs, size_t tbs_len, int flags,
		    size_t buflen, const char *extra)
{
	unsigned char *sig = malloc(buflen ? buflen : 1);
	size_t len = buflen;
	int rc = otls_sign(label, alg, salt, tbs, tbs_len,
			   buflen ? sig : NULL, &len, flags);
	char *h = head(rc);
	char *sh = hex(sig, rc ? 0 : len);

	emit("%s, \"len\": %zu, \"sig\": \"%s\"%s}\n", h, len, sh,
	     extra ? extra : "");
	free(h);
	free(sh);
	free(sig);
}

struct thr_arg {
	const char *label;
	uint32_t alg;
	const unsigned char *tbs;
	size_t tbs_len;
	int nsigs;
	int idx;
	int failures;
};

static void *thr_main(void *p)
{
	struct thr_arg *a = p;
	char extra[64];

	snprintf(extra, sizeof(extra), ", \"thread\": %d", a->idx);
	for (int i = 0; i < a->nsigs; i++)
		do_sign(a->label, a->alg, OTLS_SALT_DIGEST_LEN, a->tbs,
			a->tbs_len, OTLS_SIG_ECDSA_DER, OTLS_MAX_SIGNATURE,
			extra);
	return NULL;
}

/* thread-fork: signers that run until told to stop. */
static atomic_int tf_stop, tf_fail, tf_done;

struct tf_arg {
	const char *label;
	uint32_t alg;
	const unsigned char *tbs;
	size_t tbs_len;
};

static void *tf_main(void *p)
{
	struct tf_arg *a = p;

	while (!atomic_load(&tf_stop)) {
		unsigned char sig[OTLS_MAX_SIGNATURE];
		size_t len = sizeof(sig);

		if (otls_sign(a->label, a->alg, OTLS_SALT_DIGEST_LEN, a->tbs,
			      a->tbs_len, sig, &len, OTLS_SIG_ECDSA_DER))
			atomic_fetch_add(&tf_fail, 1);
		else
			atomic_fetch_add(&tf_done, 1);
	}
	return NULL;
}

/* Wait for pid at most secs seconds; -1 (and SIGKILL) if it hangs. */
static int wait_bounded(pid_t pid, int secs)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	for (int i = 0; i < secs * 100; i++) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static int read_file(const char *path, unsigned char **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096, n = 0;
	unsigned char *buf = malloc(cap);

	if (!f)
		return -1;
	for (;;) {
		size_t r = fread(buf + n, 1, cap - n, f);

		n += r;
		if (n < cap)
			break;
		cap *= 2;
		buf = realloc(buf, cap);
	}
	fclose(f);
	*data = buf;
	*len = n;
	return 0;
}

static int run(int argc, char **argv);

static int repl(void)
{
	char line[8192];

	while (fgets(line, sizeof(line), stdin)) {
		char *args[16];
		int n = 0;

		for (char *t = strtok(line, " \t\r\n"); t && n < 16;
		     t = strtok(NULL, " \t\r\n"))
			args[n++] = t;
		if (!n)
			continue;
		if (!strcmp(args[0], "quit"))
			break;
		run(n, args);
	}
	return 0;
}

static int run(int argc, char **argv)
{
	const char *cmd = argc > 0 ? argv[0] : "";
	int rc;

#define NEED(n) do { if (argc < (n)) { fprintf(stderr, "usage: %s\n", cmd); \
			return 2; } } while (0)

	if (!strcmp(cmd, "info")) {
		struct otls_info i;
		char *h;

		memset(&i, 0, sizeof(i));
		rc = otls_get_info(&i);
		h = head(rc);
		emit("%s, \"protocol_version\": %u, \"ta_version\": %u, "
		     "\"key_types\": %u, \"allow_mask\": %u, \"label_max\": %u, "
		     "\"max_keys\": %u, \"open_keys\": %u}\n", h,
		     i.protocol_version, i.ta_version, i.key_types, i.allow_mask,
		     i.label_max, i.max_keys, i.open_keys);
		free(h);
	} else if (!strcmp(cmd, "gen")) {
		struct otls_policy pol = { 0, 0, 0, 0 };
		otls_key_info k;

		NEED(4);
		if (argc >= 7) {
			pol.allowed = (uint32_t)num(argv[4]);
			pol.owner_kind = (uint32_t)num(argv[5]);
			pol.owner_id = (uint32_t)num(argv[6]);
		}
		memset(&k, 0, sizeof(k));
		rc = otls_key_generate(arg_str(argv[1]), (uint32_t)num(argv[2]),
				       (uint32_t)num(argv[3]),
				       argc >= 7 ? &pol : NULL, &k);
		emit_key(rc, &k);
	} else if (!strcmp(cmd, "get")) {
		otls_key_info k;

		NEED(2);
		memset(&k, 0, sizeof(k));
		rc = otls_key_get(arg_str(argv[1]), &k);
		emit_key(rc, &k);
	} else if (!strcmp(cmd, "del")) {
		char *h;

		NEED(2);
		rc = otls_key_delete(arg_str(argv[1]));
		h = head(rc);
		emit("%s}\n", h);
		free(h);
	} else if (!strcmp(cmd, "list")) {
		struct otls_list_entry *e = NULL;
		size_t n = 0;
		char *h, *items = strdup("");

		rc = otls_key_list(&e, &n);
		for (size_t i = 0; i < n; i++) {
			char *next = NULL;

			if (asprintf(&next, "%s%s{\"label\": \"%s\", \"type\": %u, "
				     "\"bits\": %u, \"allowed\": %u, "
				     "\"owner_kind\": %u, \"owner_id\": %u}",
				     items, i ? ", " : "", e[i].label,
				     e[i].key_type, e[i].bits,
				     e[i].policy.allowed, e[i].policy.owner_kind,
				     e[i].policy.owner_id) < 0)
				exit(99);
			free(items);
			items = next;
		}
		h = head(rc);
		emit("%s, \"keys\": [%s]}\n", h, items);
		free(h);
		free(items);
		otls_free(e);
	} else if (!strcmp(cmd, "sign")) {
		unsigned char *tbs;
		size_t tbs_len;

		NEED(5);
		tbs = unhex(argv[4], &tbs_len);
		do_sign(arg_str(argv[1]), (uint32_t)num(argv[2]),
			(uint32_t)num(argv[3]), tbs, tbs_len,
			argc > 5 ? (int)num(argv[5]) : OTLS_SIG_ECDSA_DER,
			argc > 6 ? num(argv[6]) : OTLS_MAX_SIGNATURE, NULL);
		free(tbs);
		rc = 0;
	} else if (!strcmp(cmd, "decrypt")) {
		unsigned char *in, out[OTLS_MAX_CIPHERTEXT];
		size_t in_len, len;
		char *h, *oh;

		NEED(4);
		in = unhex(argv[3], &in_len);
		len = argc > 4 ? num(argv[4]) : sizeof(out);
		rc = otls_decrypt(arg_str(argv[1]), (uint32_t)num(argv[2]), in,
				  in_len, out, &len);
		h = head(rc);
		oh = hex(out, rc ? 0 : len);
		emit("%s, \"len\": %zu, \"out\": \"%s\"}\n", h, len, oh);
		free(h);
		free(oh);
		free(in);
	} else if (!strcmp(cmd, "label")) {
		char *h;

		NEED(2);
		rc = otls_label_check(arg_str(argv[1]));
		h = head(rc);
		emit("%s}\n", h);
		free(h);
	} else if (!strcmp(cmd, "uri")) {
		char label[OTLS_LABEL_MAX + 1] = "";
		char *h;

		NEED(2);
		rc = otls_uri_parse(arg_str(argv[1]), label);
		h = head(rc);
		emit("%s, \"label\": \"%s\"}\n", h, rc ? "" : label);
		free(h);
	} else if (!strcmp(cmd, "maxsize")) {
		NEED(3);
		emit("{\"size\": %zu}\n",
		     otls_sig_max_size((uint32_t)num(argv[1]),
				       (uint32_t)num(argv[2])));
		rc = 0;
	} else if (!strcmp(cmd, "strerror")) {
		char *m;

		NEED(2);
		m = jstr(otls_strerror((int)strtol(argv[1], NULL, 0)));
		emit("{\"msg\": %s}\n", m);
		free(m);
		rc = 0;
	} else if (!strcmp(cmd, "ref-encode")) {
		otls_key_info k;
		char *pem = NULL, *h, *j;

		NEED(2);
		rc = otls_key_get(arg_str(argv[1]), &k);
		if (!rc)
			rc = otls_ref_encode_pem(&k, &pem);
		h = head(rc);
		j = jstr(pem ? pem : "");
		emit("%s, \"pem\": %s}\n", h, j);
		free(h);
		free(j);
		otls_free(pem);
	} else if (!strcmp(cmd, "ref-decode-pem") ||
		   !strcmp(cmd, "ref-decode-der")) {
		unsigned char *data, *spki = NULL;
		size_t len, spki_len = 0;
		char label[OTLS_LABEL_MAX + 1] = "", *h, *sh;

		NEED(2);
		if (read_file(argv[1], &data, &len)) {
			perror(argv[1]);
			return 2;
		}
		if (!strcmp(cmd, "ref-decode-pem"))
			rc = otls_ref_decode_pem((const char *)data, len, label,
						 &spki, &spki_len);
		else
			rc = otls_ref_decode_der(data, len, label, &spki,
						 &spki_len);
		h = head(rc);
		sh = hex(spki, rc ? 0 : spki_len);
		emit("%s, \"label\": \"%s\", \"spki\": \"%s\"}\n", h,
		     rc ? "" : label, sh);
		free(h);
		free(sh);
		free(data);
		otls_free(spki);
	} else if (!strcmp(cmd, "fork-sign")) {
		unsigned char *tbs;
		size_t tbs_len;
		int nchild, nsigs, bad = 0;
		uint32_t alg;
		pid_t pids[64];

		NEED(6);
		alg = (uint32_t)num(argv[2]);
		nchild = (int)num(argv[3]);
		nsigs = (int)num(argv[4]);
		tbs = unhex(argv[5], &tbs_len);
		if (nchild > 64)
			return 2;
		/* The parent's session exists before the fork. */
		do_sign(argv[1], alg, OTLS_SALT_DIGEST_LEN, tbs, tbs_len,
			OTLS_SIG_ECDSA_DER, OTLS_MAX_SIGNATURE,
			", \"who\": \"parent-first\"");
		for (int c = 0; c < nchild; c++) {
			pids[c] = fork();
			if (pids[c] < 0)
				return 3;
			if (pids[c] == 0) {
				char extra[64];

				snprintf(extra, sizeof(extra),
					 ", \"who\": \"child\", \"pid\": %d",
					 (int)getpid());
				for (int i = 0; i < nsigs; i++)
					do_sign(argv[1], alg,
						OTLS_SALT_DIGEST_LEN, tbs,
						tbs_len, OTLS_SIG_ECDSA_DER,
						OTLS_MAX_SIGNATURE, extra);
				_exit(0);
			}
		}
		for (int i = 0; i < nsigs; i++)
			do_sign(argv[1], alg, OTLS_SALT_DIGEST_LEN, tbs, tbs_len,
				OTLS_SIG_ECDSA_DER, OTLS_MAX_SIGNATURE,
				", \"who\": \"parent\"");
		for (int c = 0; c < nchild; c++) {
			int st;

			if (waitpid(pids[c], &st, 0) < 0 || !WIFEXITED(st) ||
			    WEXITSTATUS(st))
				bad++;
		}
		emit("{\"done\": true, \"bad_children\": %d}\n", bad);
		free(tbs);
		rc = bad ? 1 : 0;
	} else if (!strcmp(cmd, "thread-sign")) {
		unsigned char *tbs;
		size_t tbs_len;
		int nthr;
		struct thr_arg args[64];
		pthread_t th[64];

		NEED(6);
		nthr = (int)num(argv[3]);
		tbs = unhex(argv[5], &tbs_len);
		if (nthr > 64)
			return 2;
		for (int t = 0; t < nthr; t++) {
			args[t] = (struct thr_arg){ argv[1],
				(uint32_t)num(argv[2]), tbs, tbs_len,
				(int)num(argv[4]), t, 0 };
			if (pthread_create(&th[t], NULL, thr_main, &args[t]))
				return 3;
		}
		for (int t = 0; t < nthr; t++)
			pthread_join(th[t], NULL);
		emit("{\"done\": true}\n");
		free(tbs);
		rc = 0;
	} else if (!strcmp(cmd, "thread-fork")) {
		struct tf_arg a;
		pthread_t th[64];
		int nthr, nchild, bad = 0, stuck = 0;

		NEED(6);
		a.label = argv[1];
		a.alg = (uint32_t)num(argv[2]);
		nthr = (int)num(argv[3]);
		nchild = (int)num(argv[4]);
		a.tbs = unhex(argv[5], &a.tbs_len);
		if (nthr > 64)
			return 2;
		atomic_store(&tf_stop, 0);
		for (int t = 0; t < nthr; t++)
			if (pthread_create(&th[t], NULL, tf_main, &a))
				return 3;
		for (int c = 0; c < nchild; c++) {
			pid_t pid = fork();

			if (pid < 0)
				return 3;
			if (pid == 0) {
				unsigned char sig[OTLS_MAX_SIGNATURE];
				size_t len = sizeof(sig);

				/* exit(), not _exit(): the library's destructor
				 * runs in the child too */
				exit(otls_sign(a.label, a.alg,
					       OTLS_SALT_DIGEST_LEN, a.tbs,
					       a.tbs_len, sig, &len,
					       OTLS_SIG_ECDSA_DER) ? 1 : 0);
			}
			rc = wait_bounded(pid, 60);
			if (rc < 0)
				stuck++;
			else if (rc)
				bad++;
		}
		atomic_store(&tf_stop, 1);
		for (int t = 0; t < nthr; t++)
			pthread_join(th[t], NULL);
		emit("{\"done\": true, \"bad_children\": %d, "
		     "\"stuck_children\": %d, \"thread_failures\": %d, "
		     "\"thread_sigs\": %d}\n", bad, stuck,
		     atomic_load(&tf_fail), atomic_load(&tf_done));
		free((void *)a.tbs);
		rc = bad || stuck || atomic_load(&tf_fail);
	} else if (!strcmp(cmd, "fork-exit")) {
		struct otls_info i;
		pid_t pid;
		char *h;

		rc = otls_get_info(&i);
		pid = fork();
		if (pid < 0)
			return 3;
		if (pid == 0)
			exit(0);
		h = head(rc);
		emit("%s, \"child_status\": %d}\n", h, wait_bounded(pid, 60));
		free(h);
	} else if (!strcmp(cmd, "repl")) {
		return repl();
	} else {
		fprintf(stderr, "unknown command '%s'\n", cmd);
		return 2;
	}
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	return run(argc - 1, argv + 1);
}
