/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Build probe, never linked (engine/Makefile compiles it with
 * -fsyntax-only): it compiles only where OpenSSL still offers the ENGINE
 * API. It fails on OpenSSL 4.0 (no engine.h), with OPENSSL_NO_ENGINE
 * (engine.h declares nothing), and with no-deprecated builds of 3.x
 * (engine.h without the ENGINE functions: an undeclared function is an
 * error here).
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/opensslconf.h>
#include <openssl/engine.h>

ENGINE *optee_tls_have_engine_probe(void);

ENGINE *optee_tls_have_engine_probe(void)
{
	return ENGINE_by_id("optee");
}
