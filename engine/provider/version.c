// SPDX-License-Identifier: BSD-2-Clause
/*
 * Which OpenSSL may load this provider: only one of the major version it
 * was built against. A provider built for 3.x and loaded by 4.x runs on
 * two libcryptos at once and crashes the process at exit, so it refuses.
 */
#include <stdlib.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <openssl/params.h>
#include "prov.h"

int optee_version_major(const char *version)
{
	char *end;
	long major;

	if (version == NULL || *version < '0' || *version > '9')
		return -1;
	major = strtol(version, &end, 10);
	/* "3", "3.5.1", "4.0.2-dev": a number, then the end or a dot. */
	if ((*end != '\0' && *end != '.') || major < 0 || major > 1000)
		return -1;
	return (int)major;
}

int optee_version_check(const OSSL_CORE_HANDLE *handle,
			OSSL_FUNC_core_get_params_fn *core_get_params,
			int built_major, const char **core_version)
{
	OSSL_PARAM params[2];
	const char *version = NULL;

	*core_version = NULL;
	if (core_get_params != NULL) {
		params[0] = OSSL_PARAM_construct_utf8_ptr(
			OSSL_PROV_PARAM_CORE_VERSION, (char **)&version, 0);
		params[1] = OSSL_PARAM_construct_end();
		if (!core_get_params(handle, params))
			version = NULL;
	}
	if (version != NULL) {
		*core_version = version;
		return optee_version_major(version) == built_major;
	}
	/* A core that does not say: the libcrypto we run on decides. */
	return (int)(OpenSSL_version_num() >> 28) == built_major;
}
