"""The simulator's libteec: GP Client API semantics over the socket.

Temp memrefs, registered/allocated shared memory with WHOLE and PARTIAL
memrefs, output sizes (also on TEEC_ERROR_SHORT_BUFFER), returnOrigin,
local argument checks, size limits, inheritance of session descriptors.
Uses the real TA's GET_INFO and GET_KEY commands.
"""
from __future__ import annotations

import ctypes as C
import fcntl
import os
import struct
import subprocess

import pytest

import sim_teec as T

MIB = 1 << 20


@pytest.fixture
def client(sim, monkeypatch):
    monkeypatch.setenv("OPTEE_SIM_SOCKET", str(sim.socket))
    cl = T.Client()
    assert cl.res == T.TEEC_SUCCESS
    yield cl
    cl.finalize()


@pytest.fixture
def sess(client):
    res, origin, s = client.open(login=T.TEEC_LOGIN_USER)
    assert (res, origin) == (T.TEEC_SUCCESS, T.TEEC_ORIGIN_TRUSTED_APP)
    yield s
    client.close(s)


def info_from(raw: bytes) -> dict:
    return dict(zip(T.OTLS_INFO_FIELDS, struct.unpack("<8I", raw[:32])))


def tmp_op(ptype: int, buf, size: int) -> T.TEEC_Operation:
    op = T.TEEC_Operation()
    op.paramTypes = T.param_types(ptype)
    op.params[0].tmpref.buffer = C.cast(buf, C.c_void_p) if buf else None
    op.params[0].tmpref.size = size
    return op


def test_tmpref_output_and_started(client, sess):
    buf = C.create_string_buffer(64)
    op = tmp_op(T.TEEC_MEMREF_TEMP_OUTPUT, buf, 64)
    assert client.invoke(sess, T.OTLS_CMD_GET_INFO, op) == (
        T.TEEC_SUCCESS, T.TEEC_ORIGIN_TRUSTED_APP)
    assert op.params[0].tmpref.size == 32
    assert op.started == 1
    assert info_from(buf.raw)["label_max"] == 32


def test_short_buffer_gives_size_and_keeps_data(client, sess):
    buf = C.create_string_buffer(b"\xaa" * 8, 8)
    op = tmp_op(T.TEEC_MEMREF_TEMP_OUTPUT, buf, 8)
    assert client.invoke(sess, T.OTLS_CMD_GET_INFO, op) == (
        T.TEEC_ERROR_SHORT_BUFFER, T.TEEC_ORIGIN_TRUSTED_APP)
    assert op.params[0].tmpref.size == 32
    assert buf.raw == b"\xaa" * 8


def test_one_mib_is_carried_more_is_refused(client, sess):
    big = C.create_string_buffer(MIB + 1)
    op = tmp_op(T.TEEC_MEMREF_TEMP_OUTPUT, big, MIB)
    assert client.invoke(sess, T.OTLS_CMD_GET_INFO, op)[0] == T.TEEC_SUCCESS
    assert op.params[0].tmpref.size == 32
    op = tmp_op(T.TEEC_MEMREF_TEMP_OUTPUT, big, MIB + 1)
    assert client.invoke(sess, T.OTLS_CMD_GET_INFO, op) == (
        T.TEEC_ERROR_EXCESS_DATA, T.TEEC_ORIGIN_API)
    # A 1 MiB input reaches the TA, which refuses it as a label.
    label = C.create_string_buffer(b"a" * MIB, MIB)
    key = C.create_string_buffer(4096)
    op = T.TEEC_Operation()
    op.paramTypes = T.param_types(T.TEEC_MEMREF_TEMP_INPUT,
                                  T.TEEC_MEMREF_TEMP_OUTPUT)
    op.params[0].tmpref.buffer = C.cast(label, C.c_void_p)
    op.params[0].tmpref.size = MIB
    op.params[1].tmpref.buffer = C.cast(key, C.c_void_p)
    op.params[1].tmpref.size = 4096
    assert client.invoke(sess, T.OTLS_CMD_GET_KEY, op) == (
        T.TEEC_ERROR_BAD_PARAMETERS, T.TEEC_ORIGIN_TRUSTED_APP)


def test_input_memref_reaches_ta(client, sess):
    label = C.create_string_buffer(b"no-such-key", 11)
    key = C.create_string_buffer(1024)
    op = T.TEEC_Operation()
    op.paramTypes = T.param_types(T.TEEC_MEMREF_TEMP_INPUT,
                                  T.TEEC_MEMREF_TEMP_OUTPUT)
    op.params[0].tmpref.buffer = C.cast(label, C.c_void_p)
    op.params[0].tmpref.size = 11
    op.params[1].tmpref.buffer = C.cast(key, C.c_void_p)
    op.params[1].tmpref.size = 1024
    assert client.invoke(sess, T.OTLS_CMD_GET_KEY, op) == (
        T.TEEC_ERROR_ITEM_NOT_FOUND, T.TEEC_ORIGIN_TRUSTED_APP)
    assert op.params[0].tmpref.size == 11       # inputs are not updated


def test_wrong_types_reach_ta(client, sess):
    op = T.TEEC_Operation()
    op.paramTypes = T.param_types(T.TEEC_VALUE_INPUT)
    assert client.invoke(sess, T.OTLS_CMD_GET_INFO, op) == (
        T.TEEC_ERROR_BAD_PARAMETERS, T.TEEC_ORIGIN_TRUSTED_APP)
    assert client.invoke(sess, T.OTLS_CMD_GET_INFO) == (
        T.TEEC_ERROR_BAD_PARAMETERS, T.TEEC_ORIGIN_TRUSTED_APP)


def test_registered_memory_whole(client, sess):
    raw = C.create_string_buffer(48)
    shm = T.TEEC_SharedMemory()
    shm.buffer = C.cast(raw, C.c_void_p)
    shm.size = 48
    shm.flags = T.TEEC_MEM_INPUT | T.TEEC_MEM_OUTPUT
    assert client.lib.TEEC_RegisterSharedMemory(C.byref(client.ctx),
                                                C.byref(shm)) == 0
    op = T.TEEC_Operation()
    op.paramTypes = T.param_types(T.TEEC_MEMREF_WHOLE)
    op.params[0].memref.parent = C.pointer(shm)
    # WHOLE takes its direction from the block's flags: OUTPUT here.
    shm.flags = T.TEEC_MEM_OUTPUT
    assert client.invoke(sess, T.OTLS_CMD_GET_INFO, op) == (
        T.TEEC_SUCCESS, T.TEEC_ORIGIN_TRUSTED_APP)
    assert op.params[0].memref.size == 32
    assert info_from(raw.raw)["protocol_version"] == 1
    client.lib.TEEC_ReleaseSharedMemory(C.byref(shm))
    assert shm.buffer is None


def test_allocated_memory_partial(client, sess):
    shm = T.TEEC_SharedMemory()
    shm.size = 100
    shm.flags = T.TEEC_MEM_OUTPUT
    assert client.lib.TEEC_AllocateSharedMemory(C.byref(client.ctx),
                                                C.byref(shm)) == 0
    C.memset(shm.buffer, 0x55, 100)
    op = T.TEEC_Operation()
    op.paramTypes = T.param_types(T.TEEC_MEMREF_PARTIAL_OUTPUT)
    op.params[0].memref.parent = C.pointer(shm)
    op.params[0].memref.offset = 16
    op.params[0].memref.size = 40
    assert client.invoke(sess, T.OTLS_CMD_GET_INFO, op) == (
        T.TEEC_SUCCESS, T.TEEC_ORIGIN_TRUSTED_APP)
    assert op.params[0].memref.size == 32
    data = C.string_at(shm.buffer, 100)
    assert data[:16] == b"\x55" * 16 and data[48:] == b"\x55" * 52
    assert info_from(data[16:48])["max_keys"] == 64
    # Too small a window: size needed, nothing written.
    C.memset(shm.buffer, 0x55, 100)
    op.params[0].memref.size = 20
    assert client.invoke(sess, T.OTLS_CMD_GET_INFO, op)[0] == \
        T.TEEC_ERROR_SHORT_BUFFER
    assert op.params[0].memref.size == 32
    assert C.string_at(shm.buffer, 100) == b"\x55" * 100
    client.lib.TEEC_ReleaseSharedMemory(C.byref(shm))


def test_local_argument_checks(client, sess):
    api = (T.TEEC_ERROR_BAD_PARAMETERS, T.TEEC_ORIGIN_API)
    inonly = T.TEEC_SharedMemory()
    inonly.size = 64
    inonly.flags = T.TEEC_MEM_INPUT
    assert client.lib.TEEC_AllocateSharedMemory(C.byref(client.ctx),
                                                C.byref(inonly)) == 0

    def memref_op(ptype, parent, offset=0, size=32):
        op = T.TEEC_Operation()
        op.paramTypes = T.param_types(ptype)
        op.params[0].memref.parent = parent
        op.params[0].memref.offset = offset
        op.params[0].memref.size = size
        return op

    cases = [
        tmp_op(T.TEEC_MEMREF_TEMP_OUTPUT, None, 32),          # NULL + size
        memref_op(T.TEEC_MEMREF_PARTIAL_OUTPUT, C.pointer(inonly)),
        memref_op(T.TEEC_MEMREF_PARTIAL_INPUT, C.pointer(inonly), 40, 32),
        memref_op(T.TEEC_MEMREF_PARTIAL_INPUT, C.pointer(inonly),
                  2**64 - 8, 16),                             # wraps
        memref_op(T.TEEC_MEMREF_WHOLE, None),
    ]
    for bad_type in (4, 8, 9, 10, 11):
        op = T.TEEC_Operation()
        op.paramTypes = T.param_types(bad_type)
        cases.append(op)
    for op in cases:
        assert client.invoke(sess, T.OTLS_CMD_GET_INFO, op) == api
    assert client.lib.TEEC_InvokeCommand(None, 0, None, None) == \
        T.TEEC_ERROR_BAD_PARAMETERS
    origin = C.c_uint32(0)
    sess2 = T.TEEC_Session()
    assert client.lib.TEEC_OpenSession(
        C.byref(client.ctx), C.byref(sess2), None, 0, None, None,
        C.byref(origin)) == T.TEEC_ERROR_BAD_PARAMETERS
    assert origin.value == T.TEEC_ORIGIN_API
    res, origin, _ = client.open(login=T.TEEC_LOGIN_GROUP, gid=None)
    assert (res, origin) == api
    # Shared memory flags.
    for flags in (0, 4, 7):
        shm = T.TEEC_SharedMemory()
        shm.size = 8
        shm.flags = flags
        assert client.lib.TEEC_AllocateSharedMemory(
            C.byref(client.ctx), C.byref(shm)) == T.TEEC_ERROR_BAD_PARAMETERS
    shm = T.TEEC_SharedMemory()
    shm.size = 8
    shm.flags = T.TEEC_MEM_INPUT
    assert client.lib.TEEC_RegisterSharedMemory(
        C.byref(client.ctx), C.byref(shm)) == T.TEEC_ERROR_BAD_PARAMETERS
    client.lib.TEEC_ReleaseSharedMemory(C.byref(inonly))


def test_null_tmpref_is_passed_as_null(client, sess):
    op = tmp_op(T.TEEC_MEMREF_TEMP_OUTPUT, None, 0)
    res, origin = client.invoke(sess, T.OTLS_CMD_GET_INFO, op)
    # The TA decides; either way it answered and the session lives on.
    assert origin == T.TEEC_ORIGIN_TRUSTED_APP
    assert res in (T.TEEC_ERROR_SHORT_BUFFER, T.TEEC_ERROR_BAD_PARAMETERS)
    if res == T.TEEC_ERROR_SHORT_BUFFER:
        assert op.params[0].tmpref.size == 32
    assert client.get_info(sess)[0] == T.TEEC_SUCCESS


def test_session_descriptor_is_inherited(client, sess):
    # Like /dev/tee0: no close-on-exec, so a child shares the instance.
    assert not fcntl.fcntl(sess.imp.fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    pid = os.fork()
    if pid == 0:
        try:
            res = client.get_info(sess)[0]
            os._exit(0 if res == T.TEEC_SUCCESS else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert client.get_info(sess)[0] == T.TEEC_SUCCESS


C_CLIENT = r"""
#include <stdio.h>
#include <string.h>
#include <tee_client_api.h>
#include "optee_tls_ta.h"

int main(void)
{
	TEEC_Context ctx;
	TEEC_Session sess;
	TEEC_Operation op;
	TEEC_UUID uuid = OTLS_TA_UUID;
	struct otls_info info;
	uint32_t origin = 0;
	TEEC_Result res;

	res = TEEC_InitializeContext(NULL, &ctx);
	if (res != TEEC_SUCCESS)
		return 10;
	res = TEEC_OpenSession(&ctx, &sess, &uuid, TEEC_LOGIN_USER, NULL,
			       NULL, &origin);
	if (res != TEEC_SUCCESS)
		return 11;
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_OUTPUT, TEEC_NONE,
					 TEEC_NONE, TEEC_NONE);
	op.params[0].tmpref.buffer = &info;
	op.params[0].tmpref.size = sizeof(info);
	res = TEEC_InvokeCommand(&sess, OTLS_CMD_GET_INFO, &op, &origin);
	if (res != TEEC_SUCCESS || origin != TEEC_ORIGIN_TRUSTED_APP)
		return 12;
	printf("protocol %u size %zu\n", info.protocol_version,
	       op.params[0].tmpref.size);
	TEEC_CloseSession(&sess);
	TEEC_FinalizeContext(&ctx);
	return 0;
}
"""


@pytest.mark.parametrize("std", ["c99", "c11", "gnu17"])
def test_c_client_builds_and_runs(sim, tmp_path, std):
    src = tmp_path / "client.c"
    src.write_text(C_CLIENT)
    exe = tmp_path / "client"
    root = T.ROOT
    subprocess.run(["cc", f"-std={std}", "-Wall", "-Wextra", "-Werror",
                    "-pedantic", "-I", str(root / "sim" / "include"), "-I",
                    str(root / "ta" / "include"), "-o", str(exe), str(src),
                    "-L", str(T.LIBTEEC.parent), "-lteec"], check=True)
    r = sim.run([str(exe)], text=True)
    assert r.stdout.strip() == "protocol 1 size 32"


def test_libteec_exports_and_soname():
    out = subprocess.run(["readelf", "-dW", str(T.LIBTEEC)],
                         capture_output=True, text=True, check=True).stdout
    assert "Library soname: [libteec.so.2]" in out
    syms = subprocess.run(["nm", "-D", "--defined-only", str(T.LIBTEEC)],
                          capture_output=True, text=True, check=True).stdout
    names = {line.split()[-1] for line in syms.splitlines() if line.strip()}
    assert names == {
        "TEEC_InitializeContext", "TEEC_FinalizeContext", "TEEC_OpenSession",
        "TEEC_CloseSession", "TEEC_InvokeCommand",
        "TEEC_RegisterSharedMemory", "TEEC_AllocateSharedMemory",
        "TEEC_ReleaseSharedMemory", "TEEC_RequestCancellation"}
