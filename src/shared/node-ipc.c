/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "macro.h"
#include "node-ipc.h"

void node_ipc_reader_done(NodeIpcReader *r) {
        free(r->buf);
        *r = (NodeIpcReader) {};
}

int node_ipc_reader_feed(NodeIpcReader *r, const void *data, size_t len) {
        if (r->len + len > NODE_IPC_LINE_MAX && !memchr(r->buf ?: "", '\n', r->len) &&
            !memchr(data, '\n', len))
                return -E2BIG;
        if (r->len + len + 1 > r->size) {
                size_t size = (r->len + len + 1) * 2;
                char *n = realloc(r->buf, size);
                if (!n)
                        return -ENOMEM;
                r->buf = n;
                r->size = size;
        }
        memcpy(r->buf + r->len, data, len);
        r->len += len;
        return 0;
}

static void utf8_put(char **o, uint32_t c) {
        char *p = *o;

        if (c < 0x80)
                *p++ = (char) c;
        else if (c < 0x800) {
                *p++ = (char) (0xC0 | (c >> 6));
                *p++ = (char) (0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
                *p++ = (char) (0xE0 | (c >> 12));
                *p++ = (char) (0x80 | ((c >> 6) & 0x3F));
                *p++ = (char) (0x80 | (c & 0x3F));
        } else {
                *p++ = (char) (0xF0 | (c >> 18));
                *p++ = (char) (0x80 | ((c >> 12) & 0x3F));
                *p++ = (char) (0x80 | ((c >> 6) & 0x3F));
                *p++ = (char) (0x80 | (c & 0x3F));
        }
        *o = p;
}

static int hex4(const char *s, uint32_t *ret) {
        uint32_t v = 0;

        for (int i = 0; i < 4; i++) {
                char c = s[i];
                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= (uint32_t) (c - '0');
                else if (c >= 'a' && c <= 'f')
                        v |= (uint32_t) (c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        v |= (uint32_t) (c - 'A' + 10);
                else
                        return -EBADMSG;
        }
        *ret = v;
        return 0;
}

int json_string_decode(const char *s, size_t len, char **ret) {
        _cleanup_free_ char *out = NULL;
        const char *end = s + len;
        char *o;

        if (len < 2 || s[0] != '"' || end[-1] != '"')
                return -EBADMSG;
        /* Every escape shrinks or keeps the length, \uXXXX (6 bytes) yields at most 4. */
        out = o = malloc(len);
        if (!out)
                return -ENOMEM;

        for (const char *p = s + 1; p < end - 1; p++) {
                unsigned char c = (unsigned char) *p;

                if (c == '"' || c < 0x20)
                        return -EBADMSG;
                if (c != '\\') {
                        *o++ = (char) c;
                        continue;
                }
                if (++p >= end - 1)
                        return -EBADMSG;
                switch (*p) {
                case '"': *o++ = '"'; break;
                case '\\': *o++ = '\\'; break;
                case '/': *o++ = '/'; break;
                case 'b': *o++ = '\b'; break;
                case 'f': *o++ = '\f'; break;
                case 'n': *o++ = '\n'; break;
                case 'r': *o++ = '\r'; break;
                case 't': *o++ = '\t'; break;
                case 'u': {
                        uint32_t cp, lo;

                        if (end - 1 - p < 5 || hex4(p + 1, &cp) < 0)
                                return -EBADMSG;
                        p += 4;
                        if (cp >= 0xD800 && cp <= 0xDBFF) {
                                if (end - 1 - p < 7 || p[1] != '\\' || p[2] != 'u' ||
                                    hex4(p + 3, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
                                        return -EBADMSG;
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                p += 6;
                        } else if (cp >= 0xDC00 && cp <= 0xDFFF)
                                return -EBADMSG;
                        if (cp == 0)
                                return -EBADMSG; /* would cut the C string */
                        utf8_put(&o, cp);
                        break;
                }
                default:
                        return -EBADMSG;
                }
        }
        *o = 0;
        *ret = TAKE_PTR(out);
        return 0;
}

/* The next line, without its blanks; 0 if none is complete. */
static int reader_line(NodeIpcReader *r, const char **ret_start, const char **ret_end, size_t *ret_consumed) {
        char *nl = r->len > 0 ? memchr(r->buf, '\n', r->len) : NULL;
        const char *p, *e;

        if (!nl)
                return 0;
        p = r->buf;
        e = nl;
        /* Not strchr(): it would match the NUL terminator and take NUL for blank. */
        while (p < e && (*p == ' ' || *p == '\t' || *p == '\r'))
                p++;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                e--;
        *ret_start = p;
        *ret_end = e;
        *ret_consumed = nl - r->buf + 1;
        return 1;
}

static void reader_consume(NodeIpcReader *r, size_t consumed) {
        memmove(r->buf, r->buf + consumed, r->len - consumed);
        r->len -= consumed;
}

int node_ipc_reader_next(NodeIpcReader *r, char **ret_string) {
        const char *p, *e;
        size_t consumed;
        int k = 0;

        if (reader_line(r, &p, &e, &consumed) == 0)
                return 0;
        *ret_string = NULL;
        if (p < e && *p == '"')
                k = json_string_decode(p, e - p, ret_string);
        reader_consume(r, consumed);
        return k < 0 ? k : 1;
}

int node_ipc_reader_next_value(NodeIpcReader *r, char **ret_canonical) {
        const char *p, *e;
        size_t consumed;
        int k = 0;

        if (reader_line(r, &p, &e, &consumed) == 0)
                return 0;
        *ret_canonical = NULL;
        if (p < e)
                k = json_canonicalize(p, e - p, ret_canonical);
        reader_consume(r, consumed);
        return k < 0 ? k : 1;
}

char *node_ipc_encode(const char *message) {
        char *s;

        /* Our messages are plain words; anything else is a programming error. */
        for (const char *p = message; *p; p++)
                if (*p == '"' || *p == '\\' || (unsigned char) *p < 0x20)
                        return NULL;
        if (asprintf(&s, "\"%s\"\n", message) < 0)
                return NULL;
        return s;
}
