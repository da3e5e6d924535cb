/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ini.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>

#include "app-policy.h"
#include "config-internal.h"
#include "config.h"
#include "macro.h"
#include "strv.h"
#include "system-claims.h"

/* inih takes a ';' after whitespace for the start of a comment, anywhere on a line. The
 * reader decides about comments itself and hands inih every other such ';' as this byte
 * (control characters are refused in the file, so it cannot be there). */
#define PROTECTED_SEMICOLON '\x1f'


static const char *const ready_protocol_table[_READY_PROTOCOL_MAX] = {
        [READY_NOTIFY] = "notify",
        [READY_NODE_IPC] = "node-ipc",
        [READY_LISTEN] = "listen",
};

static const char *const suspend_mode_table[_SUSPEND_MODE_MAX] = {
        [SUSPEND_HOLD] = "hold",
        [SUSPEND_QUEUE] = "queue",
};

const char *ready_protocol_to_string(ReadyProtocol p) {
        return p >= 0 && p < _READY_PROTOCOL_MAX ? ready_protocol_table[p] : NULL;
}

ReadyProtocol ready_protocol_from_string(const char *s) {
        for (int i = 0; i < _READY_PROTOCOL_MAX; i++)
                if (streq(s, ready_protocol_table[i]))
                        return i;
        return _READY_PROTOCOL_INVALID;
}

const char *suspend_mode_to_string(SuspendMode m) {
        return m >= 0 && m < _SUSPEND_MODE_MAX ? suspend_mode_table[m] : NULL;
}

static const char *const standby_mode_table[_STANDBY_MODE_MAX] = {
        [STANDBY_NO] = "no",
        [STANDBY_YES] = "yes",
        [STANDBY_SERVING] = "serving",
};

const char *standby_mode_to_string(StandbyMode m) {
        return m >= 0 && m < _STANDBY_MODE_MAX ? standby_mode_table[m] : NULL;
}

StandbyMode standby_mode_from_string(const char *s) {
        static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };

        if (streq(s, "serving"))
                return STANDBY_SERVING;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (streq(s, yes[i]))
                        return STANDBY_YES;
                if (streq(s, no[i]))
                        return STANDBY_NO;
        }
        return _STANDBY_MODE_INVALID;
}

SuspendMode suspend_mode_from_string(const char *s) {
        for (int i = 0; i < _SUSPEND_MODE_MAX; i++)
                if (streq(s, suspend_mode_table[i]))
                        return i;
        return _SUSPEND_MODE_INVALID;
}

AppConfig *app_config_free(AppConfig *c) {
        if (!c)
                return NULL;
        free(c->path);
        strv_free(c->dropins);
        free(c->name);
        free(c->exec);
        free(c->listen);
        free(c->ready_message);
        free(c->working_directory);
        free(c->user);
        free(c->group);
        strv_free(c->environment);
        strv_free(c->environment_files);
        strv_free(c->pass_environment);
        free(c->socket_directory);
        free(c->socket_name);
        free(c->socket_user);
        free(c->socket_group);
        free(c);
        return NULL;
}

int app_name_from_path(const char *path, char **ret) {
        const char *base = strrchr(path, '/');
        size_t len, sl = strlen(SOCKD_CONFIG_SUFFIX);
        char *name;

        base = base ? base + 1 : path;
        len = strlen(base);
        if (len <= sl || !streq(base + len - sl, SOCKD_CONFIG_SUFFIX))
                return -EINVAL;
        name = strndup(base, len - sl);
        if (!name)
                return -ENOMEM;
        if (!unit_prefix_is_valid(name)) {
                free(name);
                return -EINVAL;
        }
        *ret = name;
        return 0;
}

/* ---- errors (the parse state is in config-internal.h, shared with the key parsers) ---- */

int parse_error_valist(ParseState *s, const char *path, unsigned line, int code, const char *fmt, va_list ap) {
        _cleanup_free_ char *msg = NULL;
        int r;

        if (s->error) /* keep the first error: later ones are often consequences */
                return s->error_code;

        r = vasprintf(&msg, fmt, ap);
        if (r < 0)
                return -ENOMEM;

        if (line > 0)
                r = asprintf(&s->error, "'%s':%u: %s", path, line, msg);
        else
                r = asprintf(&s->error, "'%s': %s", path, msg);
        if (r < 0) {
                s->error = NULL;
                return -ENOMEM;
        }
        s->error_code = code;
        return code;
}

int parse_error(ParseState *s, unsigned line, int code, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = parse_error_valist(s, s->path, line, code, fmt, ap);
        va_end(ap);
        return r;
}

static const char *const config_sections[] = { "App", "Socket" };

static char *unprotect(const char *s) {
        char *copy = strdup(strempty(s));

        for (char *p = copy; p && *p; p++)
                if (*p == PROTECTED_SEMICOLON)
                        *p = ';';
        return copy;
}

static int config_handler(void *userdata, const char *section, const char *name_raw, const char *value_raw) {
        _cleanup_free_ char *name = unprotect(name_raw), *value = unprotect(value_raw);
        ParseState *s = userdata;
        const ConfigKey *key;
        size_t idx;
        void *field;
        int r;

        if (s->error)
                return 0;
        if (!name || !value)
                return parse_error(s, s->line, -ENOMEM, "out of memory"), 0;

        s->keys_in_section++;
        if (s->continuation)
                return parse_error(s, s->line, -EINVAL,
                                   "%s: indented continuation lines are not supported, put the value on one line", name), 0;
        if (isempty(name))
                return parse_error(s, s->line, -EINVAL, "a line with no key before its '='"), 0;
        if (isempty(section))
                return parse_error(s, s->line, -EINVAL, "%s: key outside of a section; start with [App]", name), 0;

        key = config_key_find(section, name, &idx);
        if (!key)
                return parse_error(s, s->line, -EINVAL, "%s: unknown key in section [%s]", name, section), 0;
        if (s->config->user_scope && config_key_names_account(key))
                return parse_error(s, s->line, -EINVAL,
                                   "%s: not available to a user's service manager: the app and its sockets "
                                   "belong to the user who runs it", name), 0;

        field = (uint8_t *) s->config + key->offset;

        if (key->repeatable) {
                if (isempty(value)) {
                        *(char ***) field = strv_free(*(char ***) field);
                        return 1;
                }
        } else if (s->key_lines[idx] > 0) {
                /* In one file a mistake; a later drop-in overrides. */
                return parse_error(s, s->line, -EINVAL, "%s: duplicate key, first set on line %u",
                                   name, s->key_lines[idx]), 0;
        }
        s->key_lines[idx] = s->line;
        s->last_lines[idx] = s->line;
        s->last_paths[idx] = s->path;

        r = key->parse(s, key, value, field);
        if (r == -ENOMEM)
                return parse_error(s, s->line, r, "%s: out of memory", name), 0;
        return 1;
}

static char *strip(char *s) {
        char *e;

        s += strspn(s, " \t\r");
        e = s + strlen(s);
        while (e > s && strchr(" \t\r\n", e[-1]))
                *--e = 0;
        return s;
}

/* Where the inline comment of a "Key=value" line starts, or NULL: a ';' with whitespace
 * before it and whitespace or the end of the line after it. In Exec=, whose value is a
 * command line, a ';' inside quotes is part of the value ("sh -c 'a ; b'"). Anything
 * else stays in the value, "A=x ;y" included: nothing is cut that could be meant. */
static char *inline_comment(char *line) {
        char *eq = line + strcspn(line, "=:"), *value;
        bool exec;
        char quote = 0;

        if (!*eq)
                return NULL;
        value = eq + 1;
        {
                char *k = line + strspn(line, " \t"), *ke = eq;
                while (ke > k && strchr(" \t", ke[-1]))
                        ke--;
                exec = ke - k == 4 && strncmp(k, "Exec", 4) == 0;
        }
        for (char *p = value; *p; p++) {
                if (exec && quote && *p == '\\' && p[1]) {
                        p++;
                        continue;
                }
                if (exec && quote && *p == quote) {
                        quote = 0;
                        continue;
                }
                if (exec && !quote && (*p == '"' || *p == '\'')) {
                        quote = *p;
                        continue;
                }
                if (*p == ';' && !quote && p > value && strchr(" \t", p[-1]) && (p[1] == 0 || strchr(" \t", p[1])))
                        return p;
        }
        return NULL;
}

/* Our reader sits under inih: it counts lines (Debian's inih is built without
 * INI_HANDLER_LINENO), rejects lines that inih would cut at its fixed buffer, checks
 * section headers, which inih does not report when a section is empty, and decides
 * what is an inline comment (inih would cut a value at any " ;"). */
static char *config_reader(char *str, int num, void *userdata) {
        ParseState *s = userdata;
        ssize_t n;
        char *l, *comment;

        n = getline(&s->line_buffer, &s->line_buffer_size, s->f);
        if (n < 0)
                return NULL;
        s->line++;

        if (n > 0 && s->line_buffer[n - 1] == '\n')
                n--;
        if (n > 0 && s->line_buffer[n - 1] == '\r')
                n--;
        s->line_buffer[n] = 0;
        if (n >= num - 1) {
                parse_error(s, s->line, -E2BIG, "line is %zd bytes long, the limit is %d", n, num - 2);
                str[0] = 0; /* hand inih an empty line instead of a truncated one */
                return str;
        }
        if (memchr(s->line_buffer, 0, n)) {
                parse_error(s, s->line, -EINVAL, "line contains a NUL byte");
                str[0] = 0;
                return str;
        }
        for (ssize_t i = 0; i < n; i++)
                if ((unsigned char) s->line_buffer[i] < ' ' && s->line_buffer[i] != '\t') {
                        /* It would end or split a line of the units it lands in. */
                        parse_error(s, s->line, -EINVAL, "line contains a control character (0x%02x) at column %zd",
                                    (unsigned) (unsigned char) s->line_buffer[i], i + 1);
                        str[0] = 0;
                        return str;
                }

        l = s->line_buffer;
        if (s->line == 1 && strncmp(l, "\xEF\xBB\xBF", 3) == 0)
                l += 3; /* a UTF-8 byte order mark, which inih skips too */
        {
                char *t = l + strspn(l, " \t");
                if (*t && *t != ';' && *t != '#' && *t != '[' && (comment = inline_comment(t))) {
                        /* cut the comment and the blanks before it */
                        while (comment > t && strchr(" \t", comment[-1]))
                                comment--;
                        *comment = 0;
                        n = strlen(s->line_buffer);
                }
        }
        /* What is left is the value: hand inih every ';' in it so that it keeps it. */
        memcpy(str, s->line_buffer, n);
        for (ssize_t i = 1; i < n; i++)
                if (str[i] == ';' && strchr(" \t", str[i - 1]) && s->line_buffer + i > l + strspn(l, " \t"))
                        str[i] = PROTECTED_SEMICOLON;
        str[n] = '\n';
        str[n + 1] = 0;

        l = strip(l);
        s->continuation = s->keys_in_section > 0 && (s->line_buffer[0] == ' ' || s->line_buffer[0] == '\t') &&
                          l[0] != 0 && l[0] != ';' && l[0] != '#';
        /* inih reports lines it cannot parse only at the end; find them here, so that the
         * first error in the file is the one reported. */
        if (!s->continuation && l[0] != 0 && l[0] != ';' && l[0] != '#' && l[0] != '[' && !strpbrk(l, "=:"))
                parse_error(s, s->line, -EINVAL, "syntax error, expected 'Key=value', '[Section]' or a comment");
        if (l[0] == '[') {
                char *end = strchr(l, ']');
                bool known = false;

                if (!end)
                        return parse_error(s, s->line, -EINVAL, "section header without ']'"), str;
                *end = 0;
                l++;
                for (size_t i = 0; i < ELEMENTSOF(config_sections); i++)
                        known = known || streq(l, config_sections[i]);
                s->keys_in_section = 0;
                if (!known)
                        parse_error(s, s->line, -EINVAL, "unknown section [%s]; known are [App] and [Socket]", l);
                else if (strv_contains(s->sections_seen, l))
                        parse_error(s, s->line, -EINVAL, "duplicate section [%s]", l);
                else if (strv_extend(&s->sections_seen, l) < 0)
                        parse_error(s, s->line, -ENOMEM, "out of memory");
        }
        return str;
}

static int config_set_defaults(AppConfig *c) {
        c->workers = 1;
        c->ready = READY_NOTIFY;
        c->ready_timeout = 30 * USEC_PER_SEC;
        c->stop_timeout = 30 * USEC_PER_SEC;
        c->handover = SOCKD_HANDOVER_DEFAULT_USEC;
        c->stop_signal = SIGTERM;
        c->suspend = SUSPEND_QUEUE;
        c->socket_mode = 0660;
        c->backlog = 4096;
        return 0;
}

static bool key_was_set(const ParseState *s, const char *section, const char *name) {
        size_t idx;

        return config_key_find(section, name, &idx) && s->last_lines[idx] > 0;
}

/* An error about the value a key ended up with: in the file and at the line that set it
 * last, or about the config as a whole if nothing set it. */
_printf_(5, 6) static int key_value_error(ParseState *s, const char *section, const char *name, int code,
                                          const char *fmt, ...) {
        size_t idx;
        bool set = config_key_find(section, name, &idx) && s->last_lines[idx] > 0;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = parse_error_valist(s, set ? s->last_paths[idx] : s->config->path, set ? s->last_lines[idx] : 0, code,
                               fmt, ap);
        va_end(ap);
        return r;
}

/* Without User=, the worker runs as a DynamicUser= named after the app, and systemd
 * reuses a user of that name if one exists: an app named "root" would run as root. Read
 * from /etc/passwd itself, which is there at boot (NSS would also return the dynamic
 * users of running apps, the app's own among them). */
static bool static_user_exists(const char *name) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t size = 0, n = strlen(name);

        if (streq(name, "root"))
                return true;
        f = fopen("/etc/passwd", "re");
        while (f && getline(&line, &size, f) >= 0)
                if (strncmp(line, name, n) == 0 && line[n] == ':')
                        return true;
        return false;
}

static int config_finish(ParseState *s) {
        AppConfig *c = s->config;
        int r;

        /* From here on errors are about the config as a whole, the drop-ins included. */
        s->path = c->path;
        if (!c->exec)
                return parse_error(s, 0, -EINVAL, "[App] Exec= is required (the command that runs the app)");
        if (c->ready_message && c->ready != READY_NODE_IPC)
                return key_value_error(s, "App", "ReadyMessage", -EINVAL,
                                       "ReadyMessage: goes with Ready=node-ipc, the app's messages on Node's IPC channel");

        if (!c->socket_directory) {
                _cleanup_free_ char *base = c->user_scope ? user_runtime_dir() : strdup("/run");

                if (!base || asprintf(&c->socket_directory, "%s/%s", base, c->name) < 0)
                        return -ENOMEM;
                if (!path_is_normalized_absolute(c->socket_directory) ||
                    c->socket_directory[strcspn(c->socket_directory, " \t\"'%${}")])
                        return parse_error(s, 0, -EINVAL,
                                           "the default socket directory '%s' (from $XDG_RUNTIME_DIR) is not a plain "
                                           "absolute path; set [Socket] Directory=", c->socket_directory);
                /* /run/APP: an app named "log" or "user" must not take over /run/log. */
                r = config_check_socket_directory(s, c->socket_directory, 0, true);
                if (r < 0)
                        return r;
        }
        if (!c->socket_name && asprintf(&c->socket_name, "%s.{worker}.sock", c->name) < 0)
                return -ENOMEM;
        if (c->workers > 1 && !strstr(c->socket_name, "{worker}"))
                return key_value_error(s, "Socket", "Name", -EINVAL,
                                       "Name: '%s' must contain {worker} when Workers=%u, or all workers would share one socket",
                                       c->socket_name, c->workers);
        if (c->user_scope)
                ; /* the user's own sockets: no owner or group to set */
        else if (!c->socket_user && !(c->socket_user = strdup(c->user ?: "root")))
                return -ENOMEM;
        if (!c->user && !c->user_scope && static_user_exists(c->name))
                return parse_error(s, 0, -EEXIST,
                                   "[App] User= is not set, so the app would run as a dynamic user named '%s', but a "
                                   "user of that name exists and systemd would run the app as that user; set User=",
                                   c->name);
        if (!c->socket_group && !c->user_scope) {
                /* nginx's group on Debian and Ubuntu; elsewhere it must be named. */
                errno = 0;
                if (s->ctx->check_system && !getgrnam("www-data"))
                        return parse_error(s, 0, -ESRCH,
                                           "[Socket] Group= is not set and the default group 'www-data' does not exist; "
                                           "set it to the group nginx runs as");
                if (!(c->socket_group = strdup("www-data")))
                        return -ENOMEM;
        }

        /* sun_path is 108 bytes with its NUL: check the longest worker's path now rather
         * than let the socket unit fail at start. */
        _cleanup_free_ char *longest = app_config_socket_path(c, c->workers - 1);
        if (!longest)
                return -ENOMEM;
        if (strlen(longest) >= sizeof(((struct sockaddr_un *) NULL)->sun_path)) {
                const char *key = key_was_set(s, "Socket", "Name") ? "Name" : "Directory";

                return key_value_error(s, "Socket", key, -ENAMETOOLONG, "%s: socket path '%s' is %zu bytes, the limit is %zu",
                                       key, longest, strlen(longest), sizeof(((struct sockaddr_un *) NULL)->sun_path) - 1);
        }
        return 0;
}

int app_config_load(const char *path, AppConfig **ret, char **ret_error) {
        return app_config_load_scope(path, false, ret, ret_error);
}

int app_config_load_scope(const char *path, bool user_scope, AppConfig **ret, char **ret_error) {
        const ConfigContext ctx = { .user_scope = user_scope, .check_system = true };

        return app_config_load_context(path, &ctx, ret, ret_error);
}

/* Reads one file into s->config: APP.conf, or one of its drop-ins over what came before. */
static int config_parse_file(ParseState *s, const char *path) {
        _cleanup_fclose_ FILE *f = NULL;
        int r;

        s->path = path;
        s->line = 0;
        s->continuation = false;
        s->keys_in_section = 0;
        s->sections_seen = strv_free(s->sections_seen);
        memset(s->key_lines, 0, ELEMENTSOF(config_keys) * sizeof(unsigned));

        {
                /* Non-blocking: a FIFO (or a link to one) must not make the generator wait. */
                _cleanup_close_ int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
                struct stat st;

                if (fd < 0 || fstat(fd, &st) < 0)
                        return parse_error(s, 0, negative_errno(), "cannot open: %m");
                if (!S_ISREG(st.st_mode))
                        return parse_error(s, 0, S_ISDIR(st.st_mode) ? -EISDIR : -EBADFD, "not a regular file");
                f = fdopen(fd, "re");
                if (!f)
                        return -ENOMEM;
                TAKE_FD(fd);
        }
        s->f = f;

        r = ini_parse_stream(config_reader, s, config_handler, s);
        if (!s->error && r > 0)
                parse_error(s, (unsigned) r, -EINVAL, "syntax error, expected 'Key=value', '[Section]' or a comment");
        else if (!s->error && r < 0)
                parse_error(s, 0, -ENOMEM, "out of memory while parsing");
        if (ferror(f) && !s->error)
                parse_error(s, s->line, -EIO, "read error");
        s->f = NULL;
        return s->error ? s->error_code : 0;
}

static bool is_dev_null(const struct stat *st) {
        return S_ISCHR(st->st_mode) && st->st_rdev == makedev(1, 3);
}

static int compare_by_basename(const void *a, const void *b) {
        return strcmp(strrchr(*(char *const *) a, '/') + 1, strrchr(*(char *const *) b, '/') + 1);
}

/* APP.conf.d/NAME.conf in every directory of the search path, in that order of
 * precedence, and in the file's own if it is not one of them: of two drop-ins of one NAME the first found applies, and
 * one linked to /dev/null applies nothing (it masks the NAME), as systemd's units.d/.
 * Sorted by NAME, the order they are read in. */
static int config_find_dropins(ParseState *s, char ***ret) {
        _cleanup_strv_free_ char **dirs = NULL, **names = NULL, **paths = NULL;
        _cleanup_free_ char *own = strdup(s->config->path);
        char *slash;
        int r;

        if (!own)
                return -ENOMEM;
        slash = strrchr(own, '/');
        if (slash)
                *(slash == own ? slash + 1 : slash) = 0;
        /* A file outside of the search path (given by its path) comes first with its own. */
        if (!strv_contains(s->ctx->search, slash ? own : ".") && strv_extend(&dirs, slash ? own : ".") < 0)
                return -ENOMEM;
        STRV_FOREACH(d, s->ctx->search)
                if (!strv_contains(dirs, *d) && strv_extend(&dirs, *d) < 0)
                        return -ENOMEM;

        STRV_FOREACH(d, dirs) {
                _cleanup_free_ char *dir = NULL;
                _cleanup_(closedirp) DIR *dh = NULL;
                struct dirent *de;

                if (asprintf(&dir, "%s/%s%s%s", *d, s->config->name, SOCKD_CONFIG_SUFFIX, SOCKD_DROPIN_SUFFIX) < 0)
                        return -ENOMEM;
                dh = opendir(dir);
                if (!dh) {
                        if (errno == ENOENT)
                                continue;
                        /* Skipping it would run the app without what it says. */
                        s->path = dir;
                        r = parse_error(s, 0, negative_errno(), "cannot read the drop-in directory: %m");
                        s->path = s->config->path;
                        return r;
                }
                while ((errno = 0, de = readdir(dh))) {
                        size_t len = strlen(de->d_name), sl = strlen(SOCKD_CONFIG_SUFFIX);
                        struct stat st;
                        char *p;

                        if (de->d_name[0] == '.' || len <= sl || !streq(de->d_name + len - sl, SOCKD_CONFIG_SUFFIX))
                                continue; /* as systemd: other files (an editor's backup) are not drop-ins */
                        if (strv_contains(names, de->d_name))
                                continue;
                        if (strv_extend(&names, de->d_name) < 0 || asprintf(&p, "%s/%s", dir, de->d_name) < 0)
                                return -ENOMEM;
                        if (stat(p, &st) >= 0 && is_dev_null(&st)) {
                                free(p);
                                continue;
                        }
                        /* Anything else that is not a regular file is refused when read. */
                        if (strv_consume(&paths, p) < 0)
                                return -ENOMEM;
                }
                if (errno > 0) {
                        s->path = dir;
                        r = parse_error(s, 0, negative_errno(), "cannot read the drop-in directory: %m");
                        s->path = s->config->path;
                        return r;
                }
        }
        if (paths)
                qsort(paths, strv_length(paths), sizeof(char *), compare_by_basename);
        *ret = TAKE_PTR(paths);
        return 0;
}

int app_config_load_context(const char *path, const ConfigContext *ctx, AppConfig **ret, char **ret_error) {
        _cleanup_app_config_ AppConfig *c = NULL;
        ParseState s = { .path = path, .ctx = ctx };
        unsigned key_lines[ELEMENTSOF(config_keys)] = {}, last_lines[ELEMENTSOF(config_keys)] = {};
        const char *last_paths[ELEMENTSOF(config_keys)] = {};
        int r;

        s.key_lines = key_lines;
        s.last_lines = last_lines;
        s.last_paths = last_paths;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        s.config = c;
        config_set_defaults(c);
        c->user_scope = ctx->user_scope;

        c->path = strdup(path);
        if (!c->path)
                return -ENOMEM;

        r = app_name_from_path(path, &c->name);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                parse_error(&s, 0, r,
                            "file name must be APP.conf, APP up to 31 letters, digits, '-', '_' and '.', starting with a letter");
                goto fail;
        }
        {
                _cleanup_free_ char *why = NULL;

                r = app_name_check(c->name, c->user_scope, ctx->claims, &why);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        parse_error(&s, 0, r, "%s", why);
                        goto fail;
                }
        }

        r = config_find_dropins(&s, &c->dropins);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                goto fail;
        r = config_parse_file(&s, c->path);
        STRV_FOREACH(d, c->dropins) {
                if (r < 0)
                        break;
                r = config_parse_file(&s, *d);
        }
        if (r == -ENOMEM && !s.error)
                parse_error(&s, 0, r, "out of memory");

        if (!s.error) {
                r = config_finish(&s);
                if (r == -ENOMEM && !s.error)
                        parse_error(&s, 0, r, "out of memory");
        }

fail:
        free(s.line_buffer);
        strv_free(s.sections_seen);
        if (s.error) {
                if (ret_error)
                        *ret_error = s.error;
                else
                        free(s.error);
                return s.error_code < 0 ? s.error_code : -EINVAL;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

char *app_config_sources(const AppConfig *c) {
        _cleanup_free_ char *list = NULL;
        char *p;

        if (strv_isempty(c->dropins))
                return strdup(c->path);
        list = strv_join(c->dropins, ", ");
        if (!list || asprintf(&p, "%s and its drop-ins %s", c->path, list) < 0)
                return NULL;
        return p;
}

char *app_config_socket_path(const AppConfig *c, unsigned worker) {
        _cleanup_free_ char *name = NULL;
        char num[16];
        char *p;

        snprintf(num, sizeof num, "%u", worker);
        name = expand_worker(c->socket_name, num);
        if (!name || asprintf(&p, "%s/%s", c->socket_directory, name) < 0)
                return NULL;
        return p;
}

char *user_runtime_dir(void) {
        const char *e = getenv("XDG_RUNTIME_DIR");
        char *p;

        if (e && path_is_absolute(e))
                return strdup(e);
        return asprintf(&p, "/run/user/%u", (unsigned) getuid()) < 0 ? NULL : p;
}

char **config_search_path(bool user_scope) {
        const char *e = getenv("SOCKD_CONFIG_PATH");
        char **l = NULL;

        if (e) {
                _cleanup_free_ char *copy = strdup(e);
                char *save = NULL;

                if (!copy)
                        return NULL;
                for (char *w = strtok_r(copy, ":", &save); w; w = strtok_r(NULL, ":", &save))
                        if (strv_extend(&l, w) < 0)
                                return strv_free(l);
                if (l)
                        return l;
        }
        if (user_scope) {
                const char *config = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
                _cleanup_free_ char *runtime = user_runtime_dir();
                char *p;

                if (config && path_is_absolute(config)) {
                        if (asprintf(&p, "%s/sockd", config) < 0 || strv_consume(&l, p) < 0)
                                return strv_free(l);
                } else if (home && path_is_absolute(home)) {
                        if (asprintf(&p, "%s/.config/sockd", home) < 0 || strv_consume(&l, p) < 0)
                                return strv_free(l);
                }
                if (!runtime || asprintf(&p, "%s/sockd", runtime) < 0 || strv_consume(&l, p) < 0)
                        return strv_free(l);
                return l;
        }
        if (strv_extend(&l, "/etc/sockd") < 0 || strv_extend(&l, "/run/sockd") < 0 ||
            strv_extend(&l, "/usr/lib/sockd") < 0)
                return strv_free(l);
        return l;
}

static int path_compare_by_name(const void *a, const void *b) {
        const char *x = strrchr(*(char *const *) a, '/') + 1, *y = strrchr(*(char *const *) b, '/') + 1;
        size_t xl = strlen(x) - strlen(SOCKD_CONFIG_SUFFIX), yl = strlen(y) - strlen(SOCKD_CONFIG_SUFFIX);
        int r = strncmp(x, y, xl < yl ? xl : yl);

        return r != 0 ? r : (xl > yl) - (xl < yl);
}

int config_enumerate(char *const *dirs, char ***ret_paths) {
        _cleanup_strv_free_ char **paths = NULL, **names = NULL;
        int r;

        STRV_FOREACH(dir, dirs) {
                _cleanup_(closedirp) DIR *d = opendir(*dir);
                struct dirent *de;

                if (!d) {
                        if (errno == ENOENT)
                                continue;
                        continue; /* unreadable: the caller sees the apps it can */
                }
                while ((de = readdir(d))) {
                        size_t len = strlen(de->d_name), sl = strlen(SOCKD_CONFIG_SUFFIX);
                        char *p;

                        if (de->d_name[0] == '.' || len <= sl ||
                            !streq(de->d_name + len - sl, SOCKD_CONFIG_SUFFIX))
                                continue;
                        if (strv_contains(names, de->d_name))
                                continue; /* an earlier directory wins */
                        if (de->d_type != DT_REG && de->d_type != DT_LNK && de->d_type != DT_UNKNOWN)
                                continue;
                        r = strv_extend(&names, de->d_name);
                        if (r < 0)
                                return r;
                        if (asprintf(&p, "%s/%s", *dir, de->d_name) < 0)
                                return -ENOMEM;
                        r = strv_consume(&paths, p);
                        if (r < 0)
                                return r;
                }
        }

        if (paths)
                qsort(paths, strv_length(paths), sizeof(char *), path_compare_by_name);
        *ret_paths = TAKE_PTR(paths);
        return 0;
}

int config_find(char *const *dirs, const char *app, char **ret_path) {
        STRV_FOREACH(dir, dirs) {
                char *p;

                if (asprintf(&p, "%s/%s%s", *dir, app, SOCKD_CONFIG_SUFFIX) < 0)
                        return -ENOMEM;
                if (access(p, F_OK) == 0) {
                        *ret_path = p;
                        return 0;
                }
                free(p);
        }
        return -ENOENT;
}
