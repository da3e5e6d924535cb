/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listen-spec.h"

static int parse_port(const char *s, uint16_t *ret) {
        unsigned long v;
        char *end;

        if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 5)
                return -EINVAL;
        v = strtoul(s, &end, 10);
        if (v < 1 || v > 65535)
                return -EINVAL;
        *ret = (uint16_t) v;
        return 0;
}

int listen_spec_parse(const char *s, ListenSpec *ret) {
        ListenSpec spec = {};
        const char *colon;
        char host[64];

        if (!s)
                return -EINVAL;
        if (strcmp(s, "auto") == 0) {
                spec.kind = LISTEN_AUTO;
                *ret = spec;
                return 0;
        }
        if (strncmp(s, "unix:", 5) == 0) {
                const char *path = s + 5;

                if (path[0] != '/' || strlen(path) >= sizeof spec.path)
                        return -EINVAL;
                for (const char *p = path; *p; p++)
                        if ((unsigned char) *p < ' ')
                                return -EINVAL;
                spec.kind = LISTEN_UNIX;
                strcpy(spec.path, path);
                *ret = spec;
                return 0;
        }
        if (strncmp(s, "tcp:", 4) != 0)
                return -EINVAL;
        s += 4;
        spec.kind = LISTEN_TCP;
        if (s[0] == '[') {
                const char *close = strchr(s, ']');

                if (!close || close[1] != ':' || (size_t) (close - s - 1) >= sizeof host)
                        return -EINVAL;
                memcpy(host, s + 1, close - s - 1);
                host[close - s - 1] = 0;
                if (inet_pton(AF_INET6, host, &spec.ipv6) != 1)
                        return -EINVAL;
                spec.host = LISTEN_HOST_IPV6;
                colon = close + 1;
        } else {
                colon = strrchr(s, ':');
                if (!colon || (size_t) (colon - s) >= sizeof host || colon == s)
                        return -EINVAL;
                memcpy(host, s, colon - s);
                host[colon - s] = 0;
                if (strcmp(host, "*") == 0)
                        spec.host = LISTEN_HOST_ANY;
                else if (strcmp(host, "localhost") == 0)
                        spec.host = LISTEN_HOST_LOCALHOST;
                else if (inet_pton(AF_INET, host, &spec.ipv4) == 1)
                        spec.host = LISTEN_HOST_IPV4;
                else
                        return -EINVAL; /* a name other than localhost: resolved how, when? */
        }
        if (parse_port(colon + 1, &spec.port) < 0)
                return -EINVAL;
        *ret = spec;
        return 0;
}

bool listen_spec_matches(const ListenSpec *spec, const struct sockaddr *sa, socklen_t len) {
        if (!sa || len < (socklen_t) sizeof(sa_family_t))
                return false;
        switch (spec->kind) {
        case LISTEN_UNIX: {
                const struct sockaddr_un *un = (const struct sockaddr_un *) sa;
                size_t n;

                if (sa->sa_family != AF_UNIX || len <= (socklen_t) offsetof(struct sockaddr_un, sun_path))
                        return false;
                n = len - offsetof(struct sockaddr_un, sun_path);
                if (n > sizeof un->sun_path)
                        n = sizeof un->sun_path;
                if (n == 0 || un->sun_path[0] == 0) /* unnamed, abstract */
                        return false;
                return strnlen(un->sun_path, n) == strlen(spec->path) &&
                       memcmp(un->sun_path, spec->path, strlen(spec->path)) == 0;
        }
        case LISTEN_TCP:
                if (sa->sa_family == AF_INET && len >= (socklen_t) sizeof(struct sockaddr_in)) {
                        const struct sockaddr_in *in = (const struct sockaddr_in *) sa;

                        if (ntohs(in->sin_port) != spec->port)
                                return false;
                        switch (spec->host) {
                        case LISTEN_HOST_ANY:
                                return true;
                        case LISTEN_HOST_LOCALHOST:
                                return in->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
                        case LISTEN_HOST_IPV4:
                                return in->sin_addr.s_addr == spec->ipv4.s_addr;
                        case LISTEN_HOST_IPV6:
                                return false;
                        }
                }
                if (sa->sa_family == AF_INET6 && len >= (socklen_t) sizeof(struct sockaddr_in6)) {
                        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;

                        if (ntohs(in6->sin6_port) != spec->port)
                                return false;
                        switch (spec->host) {
                        case LISTEN_HOST_ANY:
                                return true;
                        case LISTEN_HOST_LOCALHOST:
                                return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
                                       (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
                                        memcmp(in6->sin6_addr.s6_addr + 12, "\x7f\0\0\x01", 4) == 0);
                        case LISTEN_HOST_IPV4:
                                return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
                                       memcmp(in6->sin6_addr.s6_addr + 12, &spec->ipv4, 4) == 0;
                        case LISTEN_HOST_IPV6:
                                return memcmp(&in6->sin6_addr, &spec->ipv6, sizeof spec->ipv6) == 0;
                        }
                }
                return false;
        case LISTEN_AUTO:
                return false;
        }
        return false;
}

void listen_address_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t size) {
        char host[INET6_ADDRSTRLEN];

        if (!sa || len < (socklen_t) sizeof(sa_family_t)) {
                snprintf(buf, size, "unknown");
                return;
        }
        if (sa->sa_family == AF_INET && len >= (socklen_t) sizeof(struct sockaddr_in)) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) sa;
                inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
                snprintf(buf, size, "tcp:%s:%u", host, (unsigned) ntohs(in->sin_port));
        } else if (sa->sa_family == AF_INET6 && len >= (socklen_t) sizeof(struct sockaddr_in6)) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;
                inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
                snprintf(buf, size, "tcp:[%s]:%u", host, (unsigned) ntohs(in6->sin6_port));
        } else if (sa->sa_family == AF_UNIX) {
                const struct sockaddr_un *un = (const struct sockaddr_un *) sa;
                size_t n = len > (socklen_t) offsetof(struct sockaddr_un, sun_path) ?
                                   len - offsetof(struct sockaddr_un, sun_path) : 0;

                if (n > sizeof un->sun_path)
                        n = sizeof un->sun_path;
                if (n == 0)
                        snprintf(buf, size, "unix:(unnamed)");
                else if (un->sun_path[0] == 0)
                        snprintf(buf, size, "unix:@%.*s", (int) (n - 1), un->sun_path + 1);
                else
                        snprintf(buf, size, "unix:%.*s", (int) strnlen(un->sun_path, n), un->sun_path);
        } else
                snprintf(buf, size, "family %d", (int) sa->sa_family);
}
