/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * GlobalPlatform TEE Client API for the optee-tls host TEE simulator.
 *
 * Normal-world code includes <tee_client_api.h> and builds unchanged
 * against this header (linking build/lib/libteec.so.2, which talks to
 * tee-simd over a Unix socket) or against optee_client's header (linking
 * the real libteec, which talks to /dev/tee0). Public names, constant
 * values and public struct fields are those of the GP specification as
 * implemented by optee_client; only the "imp" members differ.
 *
 * Simulator specifics (see sim/README.md):
 *  - The daemon is found through $OPTEE_SIM_SOCKET (default
 *    /run/tee-sim/socket). TEEC_InitializeContext() fails with
 *    TEEC_ERROR_ITEM_NOT_FOUND when nothing answers there, as the real
 *    library does when no /dev/teeN can be opened.
 *  - Every session is its own socket connection and its own TA instance
 *    process inside the daemon; session->imp.session_id is that process id.
 *  - Socket descriptors are inherited across fork() and exec(), like the
 *    real /dev/tee0 descriptor: a forked child that uses its parent's
 *    session talks to the very same TA instance.
 */
#ifndef TEE_CLIENT_API_H
#define TEE_CLIENT_API_H

#ifdef __cplusplus
extern "C" {
#endif

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Number of parameters of one operation. */
#define TEEC_CONFIG_PAYLOAD_REF_COUNT	4
/* Largest shared memory block the API accepts (the simulator further
 * limits a single memref to 1 MiB: TEEC_ERROR_EXCESS_DATA above that). */
#define TEEC_CONFIG_SHAREDMEM_MAX_SIZE	ULONG_MAX

/* Parameter types (one nibble each in paramTypes). */
#define TEEC_NONE			0x00000000
#define TEEC_VALUE_INPUT		0x00000001
#define TEEC_VALUE_OUTPUT		0x00000002
#define TEEC_VALUE_INOUT		0x00000003
#define TEEC_MEMREF_TEMP_INPUT		0x00000005
#define TEEC_MEMREF_TEMP_OUTPUT		0x00000006
#define TEEC_MEMREF_TEMP_INOUT		0x00000007
#define TEEC_MEMREF_WHOLE		0x0000000C
#define TEEC_MEMREF_PARTIAL_INPUT	0x0000000D
#define TEEC_MEMREF_PARTIAL_OUTPUT	0x0000000E
#define TEEC_MEMREF_PARTIAL_INOUT	0x0000000F

/* TEEC_SharedMemory.flags */
#define TEEC_MEM_INPUT			0x00000001
#define TEEC_MEM_OUTPUT			0x00000002

/* Return codes. */
#define TEEC_SUCCESS			0x00000000
#define TEEC_ERROR_STORAGE_NOT_AVAILABLE 0xF0100003
#define TEEC_ERROR_GENERIC		0xFFFF0000
#define TEEC_ERROR_ACCESS_DENIED	0xFFFF0001
#define TEEC_ERROR_CANCEL		0xFFFF0002
#define TEEC_ERROR_ACCESS_CONFLICT	0xFFFF0003
#define TEEC_ERROR_EXCESS_DATA		0xFFFF0004
#define TEEC_ERROR_BAD_FORMAT		0xFFFF0005
#define TEEC_ERROR_BAD_PARAMETERS	0xFFFF0006
#define TEEC_ERROR_BAD_STATE		0xFFFF0007
#define TEEC_ERROR_ITEM_NOT_FOUND	0xFFFF0008
#define TEEC_ERROR_NOT_IMPLEMENTED	0xFFFF0009
#define TEEC_ERROR_NOT_SUPPORTED	0xFFFF000A
#define TEEC_ERROR_NO_DATA		0xFFFF000B
#define TEEC_ERROR_OUT_OF_MEMORY	0xFFFF000C
#define TEEC_ERROR_BUSY			0xFFFF000D
#define TEEC_ERROR_COMMUNICATION	0xFFFF000E
#define TEEC_ERROR_SECURITY		0xFFFF000F
#define TEEC_ERROR_SHORT_BUFFER		0xFFFF0010
#define TEE_ERROR_EXTERNAL_CANCEL	0xFFFF0011
#define TEEC_ERROR_EXTERNAL_CANCEL	0xFFFF0011
#define TEE_ERROR_OVERFLOW		0xFFFF300F
#define TEE_ERROR_TARGET_DEAD		0xFFFF3024
#define TEEC_ERROR_TARGET_DEAD		0xFFFF3024
#define TEE_ERROR_STORAGE_NO_SPACE	0xFFFF3041
#define TEEC_ERROR_STORAGE_NO_SPACE	0xFFFF3041
#define TEE_ERROR_MAC_INVALID		0xFFFF3071
#define TEE_ERROR_SIGNATURE_INVALID	0xFFFF3072
#define TEE_ERROR_TIME_NOT_SET		0xFFFF5000
#define TEE_ERROR_TIME_NEEDS_RESET	0xFFFF5001

/* Where a result came from (returnOrigin). */
#define TEEC_ORIGIN_API			0x00000001
#define TEEC_ORIGIN_COMMS		0x00000002
#define TEEC_ORIGIN_TEE			0x00000003
#define TEEC_ORIGIN_TRUSTED_APP		0x00000004

/* Login methods (connectionMethod of TEEC_OpenSession). */
#define TEEC_LOGIN_PUBLIC		0x00000000
#define TEEC_LOGIN_USER			0x00000001
#define TEEC_LOGIN_GROUP		0x00000002
#define TEEC_LOGIN_APPLICATION		0x00000004
#define TEEC_LOGIN_USER_APPLICATION	0x00000005
#define TEEC_LOGIN_GROUP_APPLICATION	0x00000006

/* Build / take apart the paramTypes word of an operation. */
#define TEEC_PARAM_TYPES(p0, p1, p2, p3) \
	((p0) | ((p1) << 4) | ((p2) << 8) | ((p3) << 12))
#define TEEC_PARAM_TYPE_GET(p, i) (((p) >> ((i) * 4)) & 0xF)

typedef uint32_t TEEC_Result;

typedef struct {
	/* Implementation defined (simulator). */
	struct {
		int fd;			/* unused by the simulator: -1 */
		bool reg_mem;
		bool memref_null;
		uint32_t magic;		/* set while the context is initialised */
		char socket_path[108];	/* daemon socket, fixed at init */
	} imp;
} TEEC_Context;

typedef struct {
	uint32_t timeLow;
	uint16_t timeMid;
	uint16_t timeHiAndVersion;
	uint8_t clockSeqAndNode[8];
} TEEC_UUID;

typedef struct {
	void *buffer;
	size_t size;
	uint32_t flags;
	/* Implementation defined (simulator). */
	struct {
		int id;			/* -1 when not registered/allocated */
		size_t alloced_size;
		void *shadow_buffer;	/* unused by the simulator */
		int registered_fd;	/* unused by the simulator: -1 */
		uint32_t flags;		/* library-private flags */
	} imp;
} TEEC_SharedMemory;

typedef struct {
	void *buffer;
	size_t size;
} TEEC_TempMemoryReference;

typedef struct {
	TEEC_SharedMemory *parent;
	size_t size;
	size_t offset;
} TEEC_RegisteredMemoryReference;

typedef struct {
	uint32_t a;
	uint32_t b;
} TEEC_Value;

typedef union {
	TEEC_TempMemoryReference tmpref;
	TEEC_RegisteredMemoryReference memref;
	TEEC_Value value;
} TEEC_Parameter;

typedef struct {
	/* Implementation defined (simulator). */
	struct {
		TEEC_Context *ctx;
		uint32_t session_id;	/* pid of the TA instance process */
		int fd;			/* connection to that instance */
		void *state;		/* library-private: lock, dead flag */
	} imp;
} TEEC_Session;

typedef struct {
	uint32_t started;
	uint32_t paramTypes;
	TEEC_Parameter params[TEEC_CONFIG_PAYLOAD_REF_COUNT];
	/* Implementation defined (simulator). */
	struct {
		TEEC_Session *session;
	} imp;
} TEEC_Operation;

/* Connect the application to the TEE. name selects a TEE; NULL is the
 * default and the only one the simulator has (any name is accepted). */
TEEC_Result TEEC_InitializeContext(const char *name, TEEC_Context *context);

/* Release a context. Its sessions and shared memory must be gone. */
void TEEC_FinalizeContext(TEEC_Context *context);

/* Open a session with the TA destination. connectionData points to a gid_t
 * for TEEC_LOGIN_GROUP and is ignored otherwise. operation may be NULL. */
TEEC_Result TEEC_OpenSession(TEEC_Context *context,
			     TEEC_Session *session,
			     const TEEC_UUID *destination,
			     uint32_t connectionMethod,
			     const void *connectionData,
			     TEEC_Operation *operation,
			     uint32_t *returnOrigin);

/* Close a session; returns once the TA has seen the close. */
void TEEC_CloseSession(TEEC_Session *session);

/* Invoke command commandID of the session's TA. operation may be NULL. */
TEEC_Result TEEC_InvokeCommand(TEEC_Session *session,
			       uint32_t commandID,
			       TEEC_Operation *operation,
			       uint32_t *returnOrigin);

/* Declare a caller-owned buffer as shared memory (buffer, size, flags). */
TEEC_Result TEEC_RegisterSharedMemory(TEEC_Context *context,
				      TEEC_SharedMemory *sharedMem);

/* Allocate size bytes of shared memory into sharedMem->buffer. */
TEEC_Result TEEC_AllocateSharedMemory(TEEC_Context *context,
				      TEEC_SharedMemory *sharedMem);

/* Release registered or allocated shared memory. */
void TEEC_ReleaseSharedMemory(TEEC_SharedMemory *sharedMemory);

/* Ask for a pending operation to be cancelled (a no-op in the simulator:
 * the TA never sees a cancellation request). */
void TEEC_RequestCancellation(TEEC_Operation *operation);

#ifdef __cplusplus
}
#endif

#endif /* TEE_CLIENT_API_H */
