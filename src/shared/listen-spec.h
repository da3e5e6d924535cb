/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* [App] Listen=: the address an unmodified app binds itself, whose bind() gets the
 * worker's systemd-held socket instead. Plain C on libc only: the preload library
 * (src/preload) is built from this file too. */

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

typedef enum ListenKind {
        LISTEN_TCP,  /* tcp:HOST:PORT */
        LISTEN_UNIX, /* unix:PATH */
        LISTEN_AUTO, /* auto: the first stream socket the app listens on */
} ListenKind;

typedef enum ListenHost {
        LISTEN_HOST_ANY,       /* '*': any address the app binds on that port */
        LISTEN_HOST_LOCALHOST, /* 127.0.0.1 or ::1 */
        LISTEN_HOST_IPV4,
        LISTEN_HOST_IPV6,
} ListenHost;

typedef struct ListenSpec {
        ListenKind kind;
        ListenHost host;
        struct in_addr ipv4;
        struct in6_addr ipv6;
        uint16_t port; /* host order */
        char path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
} ListenSpec;

/* "tcp:127.0.0.1:2368", "tcp:*:3000", "tcp:[::1]:8000", "tcp:localhost:80",
 * "unix:/var/lib/app/app.sock", "auto". -EINVAL if it is none of these (a port of 1 to
 * 65535, an absolute unix path that fits sun_path). */
int listen_spec_parse(const char *s, ListenSpec *ret);

/* Does the address an app binds (@sa, @len) name what @spec says? Never for auto. */
bool listen_spec_matches(const ListenSpec *spec, const struct sockaddr *sa, socklen_t len);

/* "tcp:1.2.3.4:80", "tcp:[::]:3000", "unix:/path", "unix:@abstract"; what the journal
 * and the shim's messages show of an app's bind. */
void listen_address_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t size);
