/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Node's IPC channel as sockd-spawn reads it: the input is the byte stream, fed to a
 * NodeIpcReader in chunks the way reads would return it, every complete line taken out
 * after each chunk. The chunk sizes cycle through values taken from the first four
 * bytes of the input (which are still part of the stream), so the fuzzer also tries lines
 * split at every place; "\xff\xff\xff\xff\n" first reads 4096 bytes at a time.
 * Then json_string_decode() on the whole input, and node_ipc_encode() round trips. */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "macro.h"
#include "node-ipc.h"

/* A message taken out of the reader: a C string no longer than its line. */
static void check_message(const char *s, size_t fed) {
        fuzz_check(strlen(s) < fed);
}

static void read_stream(const uint8_t *data, size_t size) {
        NodeIpcReader r = {};
        size_t fed = 0, newlines = 0, lines = 0;

        for (size_t k = 0; fed < size; k++) {
                /* sockd-spawn reads up to 4096 bytes at a time: 1..128 bytes for a control
                 * byte below 0x80, else 32..4096 in steps of 32; full reads after the first
                 * 64, so that a long input costs no more than it would in sockd-spawn. */
                uint8_t ctl = data[k % (size < 4 ? size : 4)];
                size_t chunk = k >= 64 ? 4096 : ctl < 0x80 ? (size_t) ctl + 1 : (size_t) (ctl - 0x7f) * 32;
                int q;

                if (chunk > size - fed)
                        chunk = size - fed;
                q = node_ipc_reader_feed(&r, data + fed, chunk);
                if (q == -E2BIG) {
                        /* Only when the line being read has no end in sight. */
                        fuzz_check(!memchr(data + fed, '\n', chunk));
                        fuzz_check(r.len + chunk > NODE_IPC_LINE_MAX);
                        break; /* sockd-spawn closes the channel */
                }
                fuzz_check(q == 0 || q == -ENOMEM);
                if (q < 0)
                        break;
                for (size_t i = fed; i < fed + chunk; i++)
                        newlines += data[i] == '\n';
                fed += chunk;

                for (;;) {
                        _cleanup_free_ char *s = NULL;

                        q = node_ipc_reader_next(&r, &s);
                        fuzz_check(q == 0 || q == 1 || q == -EBADMSG || q == -ENOMEM);
                        if (q == 0)
                                break;
                        lines++;
                        fuzz_check(q < 0 ? !s : true);
                        if (s)
                                check_message(s, fed);
                }
                /* Whatever is left is one incomplete line. */
                fuzz_check(!memchr(r.buf ?: "", '\n', r.len));
                fuzz_check(lines == newlines);
        }
        node_ipc_reader_done(&r);
}

static void decode(const uint8_t *data, size_t size) {
        _cleanup_free_ char *s = NULL, *line = NULL;
        int r;

        r = json_string_decode((const char *) data, size, &s);
        fuzz_check(r == 0 || r == -EBADMSG || r == -ENOMEM);
        if (r < 0)
                return;
        /* Shorter than the literal: the quotes at least are gone. */
        fuzz_check(strlen(s) + 2 <= size);

        /* What we can send, we read back unchanged. */
        line = node_ipc_encode(s);
        if (line) {
                NodeIpcReader reader = {};
                _cleanup_free_ char *back = NULL;

                fuzz_check(node_ipc_reader_feed(&reader, line, strlen(line)) == 0);
                fuzz_check(node_ipc_reader_next(&reader, &back) == 1);
                fuzz_check(back && streq(back, s));
                fuzz_check(reader.len == 0);
                node_ipc_reader_done(&reader);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        read_stream(data, size);
        decode(data, size);
        return 0;
}
