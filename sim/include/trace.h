/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Trace macros with the names OP-TEE TAs use (EMSG, IMSG, DMSG, FMSG and
 * their _RAW forms). On the host they print to stderr. EMSG and IMSG are
 * always printed; DMSG and FMSG only when OPTEE_SIM_TA_LOG is 3 or 4
 * (set OPTEE_SIM_TA_LOG=0 to silence everything, 1 for errors only).
 */
#ifndef TRACE_H
#define TRACE_H

#define TRACE_MIN	1
#define TRACE_ERROR	1
#define TRACE_INFO	2
#define TRACE_DEBUG	3
#define TRACE_FLOW	4

void sim_trace_printf(int level, const char *func, int line, int raw,
		      const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#define EMSG(...) sim_trace_printf(TRACE_ERROR, __func__, __LINE__, 0, __VA_ARGS__)
#define IMSG(...) sim_trace_printf(TRACE_INFO, __func__, __LINE__, 0, __VA_ARGS__)
#define DMSG(...) sim_trace_printf(TRACE_DEBUG, __func__, __LINE__, 0, __VA_ARGS__)
#define FMSG(...) sim_trace_printf(TRACE_FLOW, __func__, __LINE__, 0, __VA_ARGS__)
#define EMSG_RAW(...) sim_trace_printf(TRACE_ERROR, __func__, __LINE__, 1, __VA_ARGS__)
#define IMSG_RAW(...) sim_trace_printf(TRACE_INFO, __func__, __LINE__, 1, __VA_ARGS__)
#define DMSG_RAW(...) sim_trace_printf(TRACE_DEBUG, __func__, __LINE__, 1, __VA_ARGS__)
#define FMSG_RAW(...) sim_trace_printf(TRACE_FLOW, __func__, __LINE__, 1, __VA_ARGS__)

#endif /* TRACE_H */
