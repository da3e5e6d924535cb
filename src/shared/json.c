/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "macro.h"
#include "node-ipc.h"

typedef struct Parser {
        const char *p, *end;
        unsigned depth;
} Parser;

typedef struct Member {
        char *key;   /* canonical, with its quotes */
        char *value; /* canonical */
} Member;

static int parse_value(Parser *ps, FILE *out);

static void skip_blanks(Parser *ps) {
        while (ps->p < ps->end && strchr(" \t\r\n", *ps->p) && *ps->p)
                ps->p++;
}

static bool take(Parser *ps, const char *word) {
        size_t n = strlen(word);

        if ((size_t) (ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
                return false;
        ps->p += n;
        return true;
}

static void put_string(FILE *out, const char *s) {
        fputc('"', out);
        for (const unsigned char *c = (const unsigned char *) s; *c; c++)
                switch (*c) {
                case '"': fputs("\\\"", out); break;
                case '\\': fputs("\\\\", out); break;
                case '\b': fputs("\\b", out); break;
                case '\f': fputs("\\f", out); break;
                case '\n': fputs("\\n", out); break;
                case '\r': fputs("\\r", out); break;
                case '\t': fputs("\\t", out); break;
                default:
                        if (*c < 0x20)
                                fprintf(out, "\\u%04x", *c);
                        else
                                fputc(*c, out);
                }
        fputc('"', out);
}

static int parse_string(Parser *ps, FILE *out) {
        const char *start = ps->p;
        _cleanup_free_ char *decoded = NULL;
        int r;

        /* Find the closing quote; json_string_decode() checks what is in between. */
        for (ps->p++; ps->p < ps->end && *ps->p != '"'; ps->p++)
                if (*ps->p == '\\' && ++ps->p >= ps->end)
                        return -EBADMSG;
        if (ps->p >= ps->end)
                return -EBADMSG;
        ps->p++;
        r = json_string_decode(start, ps->p - start, &decoded);
        if (r < 0)
                return r;
        put_string(out, decoded);
        return 0;
}

static int parse_number(Parser *ps, FILE *out) {
        const char *start = ps->p;
        _cleanup_free_ char *copy = NULL;
        double v;

        /* The grammar first: strtod() would take "0x10", "inf" or " 1". */
        if (ps->p < ps->end && *ps->p == '-')
                ps->p++;
        if (ps->p < ps->end && *ps->p == '0')
                ps->p++;
        else if (ps->p < ps->end && *ps->p >= '1' && *ps->p <= '9')
                while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
                        ps->p++;
        else
                return -EBADMSG;
        if (ps->p < ps->end && *ps->p == '.') {
                const char *digits = ++ps->p;
                while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
                        ps->p++;
                if (ps->p == digits)
                        return -EBADMSG;
        }
        if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
                const char *digits;
                ps->p++;
                if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
                        ps->p++;
                digits = ps->p;
                while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
                        ps->p++;
                if (ps->p == digits)
                        return -EBADMSG;
        }
        copy = strndup(start, ps->p - start);
        if (!copy)
                return -ENOMEM;
        v = strtod(copy, NULL);
        if (!isfinite(v))
                return -EBADMSG; /* JSON.parse() would give Infinity, which JSON cannot say */
        if (v == 0)
                fputs("0", out); /* -0 prints as 0 in JavaScript */
        else if (fabs(v) < 9007199254740992.0 && v == floor(v))
                fprintf(out, "%.0f", v);
        else
                fprintf(out, "%.17g", v);
        return 0;
}

static int compare_members(const void *a, const void *b) {
        return strcmp(((const Member *) a)->key, ((const Member *) b)->key);
}

static int parse_object(Parser *ps, FILE *out) {
        Member *members = NULL;
        size_t n = 0;
        int r = 0;

        ps->p++;
        skip_blanks(ps);
        if (ps->p < ps->end && *ps->p == '}') {
                ps->p++;
                fputs("{}", out);
                return 0;
        }
        for (;;) {
                _cleanup_free_ char *key = NULL, *value = NULL;
                size_t ks = 0, vs = 0;
                FILE *kf, *vf;
                Member *m;

                skip_blanks(ps);
                if (ps->p >= ps->end || *ps->p != '"') {
                        r = -EBADMSG;
                        break;
                }
                kf = open_memstream(&key, &ks);
                if (!kf) {
                        r = -ENOMEM;
                        break;
                }
                r = parse_string(ps, kf);
                if (fclose(kf) != 0 && r >= 0)
                        r = -ENOMEM;
                if (r < 0)
                        break;
                skip_blanks(ps);
                if (ps->p >= ps->end || *ps->p != ':') {
                        r = -EBADMSG;
                        break;
                }
                ps->p++;
                vf = open_memstream(&value, &vs);
                if (!vf) {
                        r = -ENOMEM;
                        break;
                }
                r = parse_value(ps, vf);
                if (fclose(vf) != 0 && r >= 0)
                        r = -ENOMEM;
                if (r < 0)
                        break;

                /* A key seen before: the later value wins, as in JSON.parse(). */
                m = NULL;
                for (size_t i = 0; i < n && !m; i++)
                        if (streq(members[i].key, key))
                                m = &members[i];
                if (m) {
                        free(m->value);
                        m->value = TAKE_PTR(value);
                } else {
                        Member *l = realloc(members, sizeof(Member) * (n + 1));
                        if (!l) {
                                r = -ENOMEM;
                                break;
                        }
                        members = l;
                        members[n++] = (Member) { .key = TAKE_PTR(key), .value = TAKE_PTR(value) };
                }

                skip_blanks(ps);
                if (ps->p < ps->end && *ps->p == ',') {
                        ps->p++;
                        continue;
                }
                if (ps->p < ps->end && *ps->p == '}') {
                        ps->p++;
                        break;
                }
                r = -EBADMSG;
                break;
        }
        if (r >= 0) {
                qsort(members, n, sizeof(Member), compare_members);
                fputc('{', out);
                for (size_t i = 0; i < n; i++)
                        fprintf(out, "%s%s:%s", i > 0 ? "," : "", members[i].key, members[i].value);
                fputc('}', out);
        }
        for (size_t i = 0; i < n; i++) {
                free(members[i].key);
                free(members[i].value);
        }
        free(members);
        return r;
}

static int parse_array(Parser *ps, FILE *out) {
        int r;

        ps->p++;
        fputc('[', out);
        skip_blanks(ps);
        if (ps->p < ps->end && *ps->p == ']') {
                ps->p++;
                fputc(']', out);
                return 0;
        }
        for (bool first = true;; first = false) {
                if (!first)
                        fputc(',', out);
                r = parse_value(ps, out);
                if (r < 0)
                        return r;
                skip_blanks(ps);
                if (ps->p < ps->end && *ps->p == ',') {
                        ps->p++;
                        continue;
                }
                if (ps->p < ps->end && *ps->p == ']') {
                        ps->p++;
                        fputc(']', out);
                        return 0;
                }
                return -EBADMSG;
        }
}

static int parse_value(Parser *ps, FILE *out) {
        int r;

        skip_blanks(ps);
        if (ps->p >= ps->end)
                return -EBADMSG;
        switch (*ps->p) {
        case '{':
        case '[':
                if (++ps->depth > JSON_DEPTH_MAX)
                        return -E2BIG;
                r = *ps->p == '{' ? parse_object(ps, out) : parse_array(ps, out);
                ps->depth--;
                return r;
        case '"':
                return parse_string(ps, out);
        case 't':
        case 'f':
        case 'n': {
                const char *word = *ps->p == 't' ? "true" : *ps->p == 'f' ? "false" : "null";
                if (!take(ps, word))
                        return -EBADMSG;
                fputs(word, out);
                return 0;
        }
        default:
                return parse_number(ps, out);
        }
}

int json_canonicalize(const char *s, size_t len, char **ret) {
        _cleanup_free_ char *buf = NULL;
        Parser ps = { .p = s, .end = s + len };
        size_t size = 0;
        FILE *out;
        int r;

        out = open_memstream(&buf, &size);
        if (!out)
                return -ENOMEM;
        r = parse_value(&ps, out);
        if (fclose(out) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0)
                return r;
        skip_blanks(&ps);
        if (ps.p != ps.end)
                return -EBADMSG; /* more than one value */
        *ret = TAKE_PTR(buf);
        return 0;
}

/* Skips one value of canonical text at @p (no blanks); NULL if it is cut short. */
static const char *skip_canonical_value(const char *p) {
        unsigned depth = 0;
        bool in_string = false;

        for (; *p; p++) {
                if (in_string) {
                        if (*p == '\\') {
                                if (!*++p)
                                        return NULL;
                        } else if (*p == '"') {
                                in_string = false;
                                if (depth == 0)
                                        return p + 1;
                        }
                        continue;
                }
                switch (*p) {
                case '"':
                        in_string = true;
                        break;
                case '{':
                case '[':
                        depth++;
                        break;
                case '}':
                case ']':
                        if (depth == 0)
                                return p; /* the end of the enclosing object */
                        if (--depth == 0)
                                return p + 1;
                        break;
                case ',':
                        if (depth == 0)
                                return p;
                        break;
                }
        }
        return depth == 0 && !in_string ? p : NULL;
}

int json_object_member(const char *canonical, const char *key, char **ret) {
        _cleanup_free_ char *want = NULL;
        size_t want_len;
        const char *p = canonical;

        if (!canonical || *p != '{')
                return -EBADMSG;
        if (asprintf(&want, "\"%s\":", key) < 0)
                return -ENOMEM;
        want_len = strlen(want);
        p++;
        while (*p == '"') {
                const char *value, *end;

                /* The key, with its quotes: canonical keys are escaped as put_string()
                 * writes them, so a plain key compares as text. */
                end = skip_canonical_value(p);
                if (!end || *end != ':')
                        return -EBADMSG;
                value = end + 1;
                end = skip_canonical_value(value);
                if (!end || end == value)
                        return -EBADMSG;
                if ((size_t) (value - p) == want_len && memcmp(p, want, want_len) == 0) {
                        char *v = strndup(value, end - value);
                        if (!v)
                                return -ENOMEM;
                        *ret = v;
                        return 0;
                }
                if (*end != ',')
                        break;
                p = end + 1;
        }
        return -ENOENT;
}
