/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "macro.h"
#include "strv.h"
#include "system-claims.h"


static const char *const unit_suffixes[] = {
        ".service", ".socket", ".target", ".slice", ".scope", ".mount", ".automount",
        ".swap", ".path", ".timer", ".device",
};

static void claim_done(Claim *c) {
        free(c->what);
        free(c->source);
}

SystemClaims *system_claims_free(SystemClaims *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_dirs; i++)
                claim_done(&c->dirs[i]);
        for (size_t i = 0; i < c->n_units; i++)
                claim_done(&c->units[i]);
        free(c->dirs);
        free(c->units);
        free(c->runtime_base);
        free(c);
        return NULL;
}

/* Takes @what. */
static int claims_add(Claim **list, size_t *n, char *what, const char *file, unsigned line) {
        Claim *l;
        char *source;
        int r;

        if (!what)
                return -ENOMEM;
        r = line > 0 ? asprintf(&source, "%s:%u", file, line) : asprintf(&source, "%s", file);
        if (r < 0) {
                free(what);
                return -ENOMEM;
        }
        l = realloc(*list, sizeof(Claim) * (*n + 1));
        if (!l) {
                free(what);
                free(source);
                return -ENOMEM;
        }
        *list = l;
        l[(*n)++] = (Claim) { .what = what, .source = source };
        return 0;
}

char *claims_expand_specifiers(const char *s, const char *runtime_base) {
        static const struct {
                char specifier;
                const char *dir;
        } dirs[] = {
                { 'S', "/var/lib" }, { 'C', "/var/cache" }, { 'L', "/var/log" },
                { 'T', "/tmp" },     { 'V', "/var/tmp" },
        };
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        for (const char *p = s; *p; p++) {
                const char *dir = NULL;

                if (*p != '%' || p[1] == 0) { /* a lone '%' at the end stays */
                        fputc(*p, f);
                        continue;
                }
                p++;
                if (*p == '%' || *p == 't') {
                        fputs(*p == 't' ? runtime_base : "%", f);
                        continue;
                }
                for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                        if (dirs[i].specifier == *p)
                                dir = dirs[i].dir;
                /* The machine id, an instance, a user...: anything. */
                fputs(dir ?: "*", f);
        }
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(buf);
}

/* A regular file to read, or NULL: a FIFO or a device among the unit files must not make
 * the generator wait (systemd would kill it, and every app with it). A masked file (a
 * link to /dev/null) has nothing to say anyway. */
static FILE *fopen_regular(const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        struct stat st;
        FILE *f;

        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return NULL;
        f = fdopen(fd, "re");
        if (f)
                TAKE_FD(fd);
        return f;
}

/* /var/run is a symlink to /run: "/var/run/x" claims "/run/x". */
static char *claim_path_normalize(char *path) {
        char *n;

        if (!path || strncmp(path, "/var/run/", 9) != 0)
                return path;
        n = strdup(path + 4);
        free(path);
        return n;
}

/* The path of a tmpfiles.d line ("Type Path Mode User Group Age Argument"), or NULL for
 * comments and lines without one. Quoted paths lose their quotes. */
static char *tmpfiles_line_path(const char *line) {
        const char *p = line + strspn(line, " \t");
        size_t n;

        if (*p == 0 || *p == '#')
                return NULL;
        p += strcspn(p, " \t"); /* the type */
        p += strspn(p, " \t");
        if (*p == '"') {
                n = strcspn(++p, "\"\n");
                return p[n] == '"' ? strndup(p, n) : NULL; /* unterminated: tmpfiles ignores it too */
        }
        n = strcspn(p, " \t\n");
        return n > 0 ? strndup(p, n) : NULL;
}

/* tmpfiles refuses a path with a control character: so do we, and the messages that
 * quote a claim stay one line. */
static bool path_has_control(const char *p) {
        for (; *p; p++)
                if ((unsigned char) *p < ' ' || *p == 0x7F)
                        return true;
        return false;
}

static int load_tmpfiles_file(SystemClaims *c, const char *path) {
        _cleanup_fclose_ FILE *f = fopen_regular(path);
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        unsigned n = 0;
        int r;

        if (!f)
                return 0; /* masked, gone, unreadable, or no regular file */
        while (getline(&line, &size, f) >= 0) {
                _cleanup_free_ char *raw = NULL;
                char *expanded;

                n++;
                raw = tmpfiles_line_path(line);
                if (!raw)
                        continue;
                expanded = claim_path_normalize(claims_expand_specifiers(raw, c->runtime_base));
                if (!expanded)
                        return -ENOMEM;
                if (expanded[0] != '/' || path_has_control(expanded)) {
                        free(expanded);
                        continue;
                }
                r = claims_add(&c->dirs, &c->n_dirs, expanded, path, n);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* RuntimeDirectory= lines of a unit file: names relative to the runtime base. */
static int load_unit_runtime_dirs(SystemClaims *c, const char *path) {
        _cleanup_fclose_ FILE *f = fopen_regular(path);
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        unsigned n = 0;
        int r;

        if (!f)
                return 0;
        while (getline(&line, &size, f) >= 0) {
                const char *p = line + strspn(line, " \t");
                char *save = NULL;

                n++;
                if (strncmp(p, "RuntimeDirectory=", 17) != 0)
                        continue;
                for (char *w = strtok_r((char *) p + 17, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)) {
                        _cleanup_free_ char *rel = NULL, *full = NULL;

                        w[strcspn(w, ":")] = 0; /* "dir:symlink" */
                        if (w[0] == 0 || path_has_control(w))
                                continue;
                        rel = claims_expand_specifiers(w, c->runtime_base);
                        if (!rel || asprintf(&full, "%s/%s", c->runtime_base, rel) < 0)
                                return -ENOMEM;
                        r = claims_add(&c->dirs, &c->n_dirs, TAKE_PTR(full), path, n);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static bool name_is_unit(const char *name) {
        size_t len = strlen(name);

        for (size_t i = 0; i < ELEMENTSOF(unit_suffixes); i++) {
                size_t sl = strlen(unit_suffixes[i]);
                if (len > sl && streq(name + len - sl, unit_suffixes[i]))
                        return true;
        }
        return false;
}

static int load_dir(SystemClaims *c, const char *dir, bool units, char ***seen) {
        _cleanup_(closedirp) DIR *d = opendir(dir);
        struct dirent *de;
        int r;

        if (!d)
                return 0;
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = NULL;
                size_t len = strlen(de->d_name);
                struct stat st;

                if (de->d_name[0] == '.')
                        continue;
                if (asprintf(&path, "%s/%s", dir, de->d_name) < 0)
                        return -ENOMEM;
                if (units) {
                        if (!name_is_unit(de->d_name))
                                continue;
                        /* A directory (foo.service.d, foo.target.wants) is no unit. */
                        if (lstat(path, &st) < 0 || S_ISDIR(st.st_mode))
                                continue;
                        r = claims_add(&c->units, &c->n_units, strdup(de->d_name), path, 0);
                        if (r < 0)
                                return r;
                        if (len > 8 && streq(de->d_name + len - 8, ".service")) {
                                r = load_unit_runtime_dirs(c, path);
                                if (r < 0)
                                        return r;
                        }
                        continue;
                }
                if (len <= 5 || !streq(de->d_name + len - 5, ".conf"))
                        continue;
                /* As systemd-tmpfiles does: the first file of a name wins. */
                if (strv_contains(*seen, de->d_name))
                        continue;
                r = strv_extend(seen, de->d_name);
                if (r < 0)
                        return r;
                r = load_tmpfiles_file(c, path);
                if (r < 0)
                        return r;
        }
        return 0;
}

int system_claims_load_from(const char *runtime_base, char *const *tmpfiles_dirs, char *const *unit_dirs,
                            SystemClaims **ret) {
        _cleanup_system_claims_ SystemClaims *c = NULL;
        _cleanup_strv_free_ char **seen = NULL;
        int r;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->runtime_base = strdup(runtime_base);
        if (!c->runtime_base)
                return -ENOMEM;
        STRV_FOREACH(d, tmpfiles_dirs) {
                r = load_dir(c, *d, false, &seen);
                if (r < 0)
                        return r;
        }
        STRV_FOREACH(d, unit_dirs) {
                r = load_dir(c, *d, true, NULL);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

static int add_prefixed(char ***l, const char *root, const char *dir) {
        char *p;

        if (asprintf(&p, "%s%s", strempty(root), dir) < 0)
                return -ENOMEM;
        return strv_consume(l, p);
}

int system_claims_load(bool user_scope, SystemClaims **ret) {
        static const char *const system_tmpfiles[] = {
                "/etc/tmpfiles.d", "/run/tmpfiles.d", "/usr/local/lib/tmpfiles.d", "/usr/lib/tmpfiles.d",
                "/lib/tmpfiles.d",
        };
        /* Not the generator directories: they are being written while we read. */
        static const char *const system_units[] = {
                "/etc/systemd/system.control", "/run/systemd/system.control", "/run/systemd/transient",
                "/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
                "/usr/lib/systemd/system", "/lib/systemd/system",
        };
        static const char *const user_tmpfiles[] = {
                "/etc/xdg/user-tmpfiles.d", "/usr/local/share/user-tmpfiles.d", "/usr/share/user-tmpfiles.d",
        };
        static const char *const user_units[] = {
                "/etc/systemd/user", "/usr/local/lib/systemd/user", "/usr/lib/systemd/user",
                "/usr/local/share/systemd/user", "/usr/share/systemd/user",
        };
        _cleanup_strv_free_ char **tmpfiles = NULL, **units = NULL;
        _cleanup_free_ char *base = NULL;
        const char *root = getenv("SOCKD_CLAIMS_ROOT");
        int r = 0;

        if (root && root[0] != '/')
                root = NULL;
        if (!user_scope) {
                base = strdup("/run");
                for (size_t i = 0; r >= 0 && i < ELEMENTSOF(system_tmpfiles); i++)
                        r = add_prefixed(&tmpfiles, root, system_tmpfiles[i]);
                for (size_t i = 0; r >= 0 && i < ELEMENTSOF(system_units); i++)
                        r = add_prefixed(&units, root, system_units[i]);
        } else {
                const char *config = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
                _cleanup_free_ char *own_config = NULL, *own_data = NULL;

                base = user_runtime_dir();
                if (config && config[0] == '/')
                        own_config = strdup(config);
                else if (home && home[0] == '/' && asprintf(&own_config, "%s/.config", home) < 0)
                        return -ENOMEM;
                if (home && home[0] == '/' && asprintf(&own_data, "%s/.local/share", home) < 0)
                        return -ENOMEM;
                if (own_config) {
                        _cleanup_free_ char *t = NULL, *u = NULL;
                        if (asprintf(&t, "%s/user-tmpfiles.d", own_config) < 0 ||
                            asprintf(&u, "%s/systemd/user", own_config) < 0)
                                return -ENOMEM;
                        r = add_prefixed(&tmpfiles, root, t);
                        if (r >= 0)
                                r = add_prefixed(&units, root, u);
                }
                if (r >= 0 && own_data) {
                        _cleanup_free_ char *t = NULL, *u = NULL;
                        if (asprintf(&t, "%s/user-tmpfiles.d", own_data) < 0 ||
                            asprintf(&u, "%s/systemd/user", own_data) < 0)
                                return -ENOMEM;
                        r = add_prefixed(&tmpfiles, root, t);
                        if (r >= 0)
                                r = add_prefixed(&units, root, u);
                }
                if (r >= 0 && base) {
                        _cleanup_free_ char *u = NULL;
                        if (asprintf(&u, "%s/systemd/user", base) < 0)
                                return -ENOMEM;
                        r = add_prefixed(&units, root, u);
                }
                for (size_t i = 0; r >= 0 && i < ELEMENTSOF(user_tmpfiles); i++)
                        r = add_prefixed(&tmpfiles, root, user_tmpfiles[i]);
                for (size_t i = 0; r >= 0 && i < ELEMENTSOF(user_units); i++)
                        r = add_prefixed(&units, root, user_units[i]);
        }
        if (r < 0 || !base)
                return -ENOMEM;
        return system_claims_load_from(base, tmpfiles, units, ret);
}

/* Splits an absolute path into its components ("/a/b" -> "a", "b"). */
static char **path_components(const char *path) {
        _cleanup_free_ char *copy = strdup(path);
        char **l = NULL, *save = NULL;

        if (!copy)
                return NULL;
        for (char *w = strtok_r(copy, "/", &save); w; w = strtok_r(NULL, "/", &save))
                if (strv_extend(&l, w) < 0)
                        return strv_free(l);
        return l ?: calloc(1, sizeof(char *));
}

const Claim *system_claims_find_dir(const SystemClaims *c, const char *dir) {
        _cleanup_strv_free_ char **d = NULL, **base = NULL;
        size_t nd, nb;

        if (!c)
                return NULL;
        d = path_components(dir);
        base = path_components(c->runtime_base);
        if (!d || !base)
                return NULL;
        nd = strv_length(d);
        nb = strv_length(base);

        for (size_t i = 0; i < c->n_dirs; i++) {
                _cleanup_strv_free_ char **p = path_components(c->dirs[i].what);
                size_t np = p ? strv_length(p) : 0, n;
                bool overlap = true;

                /* The base itself, what is above it or beside it belongs to nobody here. */
                if (!p || np <= nb)
                        continue;
                /* Component by component, so the claim "/run/log/journal/%m" covers /run/log and
                 * everything in /run/log/journal, but not /run/login. */
                n = MIN(np, nd);
                for (size_t j = 0; overlap && j < n; j++)
                        overlap = fnmatch(p[j], d[j], FNM_PERIOD) == 0;
                if (overlap)
                        return &c->dirs[i];
        }
        return NULL;
}

const Claim *system_claims_find_unit(const SystemClaims *c, const char *pattern) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_units; i++)
                if (fnmatch(pattern, c->units[i].what, 0) == 0)
                        return &c->units[i];
        return NULL;
}
