/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The libFuzzer entry point each fuzz-*.c defines. Built two ways: with clang
 * -fsanitize=fuzzer (scripts/fuzz.sh) libFuzzer calls it; otherwise fuzz-main.c does,
 * once per corpus file, which is how the corpora run as regression tests. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property that must hold whatever the input: abort(), so that libFuzzer saves the
 * input as a crash and the regression run fails. */
#define fuzz_check(expr)                                                               \
        do {                                                                           \
                if (!(expr)) {                                                         \
                        fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__,     \
                                __LINE__, __func__, #expr);                            \
                        abort();                                                       \
                }                                                                      \
        } while (0)
