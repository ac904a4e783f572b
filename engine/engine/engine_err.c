/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Error library of the optee ENGINE: one library code, obtained once per
 * load of the module with ERR_get_next_error_library, and reason strings
 * registered with ERR_load_strings (and unregistered before the module may
 * be unloaded: the strings live in this module).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine_local.h"

static int err_lib;		/* 0: not allocated yet */
static int err_loaded;

static ERR_STRING_DATA err_lib_name[] = {
	{ 0, "optee engine" },
	{ 0, NULL }
};

static ERR_STRING_DATA err_reasons[] = {
	{ ERR_PACK(0, 0, OPTEE_R_BAD_KEY_ID), "malformed key id" },
	{ ERR_PACK(0, 0, OPTEE_R_KEY_NOT_FOUND), "key not found in the TEE" },
	{ ERR_PACK(0, 0, OPTEE_R_TEE_UNREACHABLE), "TEE unreachable" },
	{ ERR_PACK(0, 0, OPTEE_R_TA_NOT_INSTALLED),
	  "optee-tls Trusted Application not installed" },
	{ ERR_PACK(0, 0, OPTEE_R_POLICY_DENIED),
	  "operation refused by the key policy" },
	{ ERR_PACK(0, 0, OPTEE_R_UNSUPPORTED), "unsupported by the TA" },
	{ ERR_PACK(0, 0, OPTEE_R_TEE_FAILURE), "TEE operation failed" },
	{ ERR_PACK(0, 0, OPTEE_R_RAW_RSA_REFUSED),
	  "raw RSA private operation refused" },
	{ ERR_PACK(0, 0, OPTEE_R_UNSUPPORTED_PADDING),
	  "unsupported RSA padding" },
	{ ERR_PACK(0, 0, OPTEE_R_UNSUPPORTED_DIGEST), "unsupported digest" },
	{ ERR_PACK(0, 0, OPTEE_R_BAD_PSS_PARAMETERS),
	  "unsupported RSA-PSS parameters" },
	{ ERR_PACK(0, 0, OPTEE_R_REFERENCE_MISMATCH),
	  "key reference does not match the key in the TEE" },
	{ ERR_PACK(0, 0, OPTEE_R_BAD_REFERENCE_FILE),
	  "bad key reference file" },
	{ ERR_PACK(0, 0, OPTEE_R_BUFFER_TOO_SMALL), "buffer too small" },
	{ ERR_PACK(0, 0, OPTEE_R_INVALID_INPUT), "invalid input" },
	{ ERR_PACK(0, 0, OPTEE_R_INTERNAL), "internal error" },
	{ ERR_PACK(0, 0, OPTEE_R_NOT_SUPPORTED_BY_TA),
	  "operation not supported" },
	{ 0, NULL }
};

int engine_err_load(void)
{
	if (err_lib == 0)
		err_lib = ERR_get_next_error_library();
	if (!err_loaded) {
		/* ERR_load_strings stops at the first entry whose code is 0, so
		 * the library-name entry needs its packed code filled in. */
		err_lib_name[0].error = ERR_PACK(err_lib, 0, 0);
		ERR_load_strings(err_lib, err_lib_name);
		ERR_load_strings(err_lib, err_reasons);
		err_loaded = 1;
	}
	return 1;
}

void engine_err_unload(void)
{
	if (err_loaded) {
		ERR_unload_strings(err_lib, err_reasons);
		ERR_unload_strings(err_lib, err_lib_name);
		err_loaded = 0;
	}
}

static void raise_v(int reason, const char *func, const char *file, int line,
		    const char *detail)
{
	if (err_lib == 0)
		engine_err_load();
#if OPTEE_OSSL3
	ERR_new();
	ERR_set_debug(file, line, func);
	if (detail != NULL && detail[0] != '\0')
		ERR_set_error(err_lib, reason, "%s", detail);
	else
		ERR_set_error(err_lib, reason, NULL);
#else
	(void)func;
	ERR_PUT_error(err_lib, 0, reason, file, line);
	if (detail != NULL && detail[0] != '\0')
		ERR_add_error_data(1, detail);
#endif
}

void engine_err_raise(int reason, const char *func, const char *file,
		      int line, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	buf[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(buf, sizeof(buf), fmt, ap);
		va_end(ap);
	}
	raise_v(reason, func, file, line, buf);
}

static int reason_for(int rc)
{
	switch (rc) {
	case OTLS_ERR_BAD_INPUT:	return OPTEE_R_INVALID_INPUT;
	case OTLS_ERR_NOT_FOUND:	return OPTEE_R_KEY_NOT_FOUND;
	case OTLS_ERR_DENIED:		return OPTEE_R_POLICY_DENIED;
	case OTLS_ERR_UNSUPPORTED:	return OPTEE_R_UNSUPPORTED;
	case OTLS_ERR_TEE_UNREACHABLE:	return OPTEE_R_TEE_UNREACHABLE;
	case OTLS_ERR_TA_NOT_INSTALLED:	return OPTEE_R_TA_NOT_INSTALLED;
	case OTLS_ERR_SHORT_BUFFER:	return OPTEE_R_BUFFER_TOO_SMALL;
	default:			return OPTEE_R_TEE_FAILURE;
	}
}

void engine_err_otls(int rc, const char *label, const char *what,
		     const char *func, const char *file, int line)
{
	char buf[512];
	const char *msg = otls_strerror(rc);

	if (msg == NULL)
		msg = "unknown error";
	if (label != NULL)
		snprintf(buf, sizeof(buf), "%s key '%s': %s (libopteetls %d, TEE 0x%08x)",
			 what, label, msg, rc, otls_last_tee_result());
	else
		snprintf(buf, sizeof(buf), "%s: %s (libopteetls %d, TEE 0x%08x)",
			 what, msg, rc, otls_last_tee_result());
	raise_v(reason_for(rc), func, file, line, buf);
}
