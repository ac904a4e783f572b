/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_teec.c: a GP TEE Client API answering from the fuzz input. */
#ifndef FUZZ_TEEC_H
#define FUZZ_TEEC_H
#include <stddef.h>
#include <stdint.h>

void fuzz_teec_input(const uint8_t *data, size_t size);

#endif
