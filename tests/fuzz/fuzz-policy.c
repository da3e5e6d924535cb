/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What an app may name, on arbitrary input: the app name, the socket directory and the
 * tmpfiles.d and unit files that say what others own. The input is three parts separated
 * by NUL bytes: an app name, a directory, and the contents of a tmpfiles.d file (which
 * also becomes a unit file with RuntimeDirectory= lines). The properties: every refusal
 * says why in one line; an accepted directory is below /run, not one systemd uses, and
 * overlaps no claimed path that has no glob in it; an accepted name is no special target
 * and shadows no unit. */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app-policy.h"
#include "fuzz.h"
#include "macro.h"
#include "parse-util.h"
#include "strv.h"
#include "system-claims.h"

static char *tmpdir, *tmpfiles_dir, *units_dir;

static void cleanup(void) {
        _cleanup_free_ char *a = NULL, *b = NULL;

        if (asprintf(&a, "%s/fuzz.conf", tmpfiles_dir) >= 0)
                (void) unlink(a);
        if (asprintf(&b, "%s/fuzz.service", units_dir) >= 0)
                (void) unlink(b);
        (void) rmdir(tmpfiles_dir);
        (void) rmdir(units_dir);
        (void) rmdir(tmpdir);
        free(tmpfiles_dir);
        free(units_dir);
        free(tmpdir);
}

static void dirs_get(void) {
        const char *t = getenv("TMPDIR");

        if (tmpdir)
                return;
        if (!t || t[0] != '/')
                t = "/tmp";
        if (asprintf(&tmpdir, "%s/sockd-fuzz-policy.XXXXXX", t) < 0 || !mkdtemp(tmpdir))
                abort();
        if (asprintf(&tmpfiles_dir, "%s/tmpfiles.d", tmpdir) < 0 || asprintf(&units_dir, "%s/units", tmpdir) < 0 ||
            mkdir(tmpfiles_dir, 0755) < 0 || mkdir(units_dir, 0755) < 0)
                abort();
        atexit(cleanup);
}

static void write_file(const char *dir, const char *name, const char *prefix, const char *data, size_t size) {
        _cleanup_free_ char *path = NULL;
        FILE *f;

        if (asprintf(&path, "%s/%s", dir, name) < 0)
                abort();
        f = fopen(path, "we");
        if (!f || fputs(prefix, f) < 0 || (size > 0 && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
                abort();
}

/* A claimed path without glob characters that @dir is, is below or is above. */
static bool overlaps_plain_claim(const SystemClaims *c, const char *dir) {
        for (size_t i = 0; i < c->n_dirs; i++) {
                const char *p = c->dirs[i].what;
                size_t lp = strlen(p), ld = strlen(dir);

                if (strpbrk(p, "*?[") || strstr(p, "//") || (lp > 1 && p[lp - 1] == '/') || strstr(p, "/./") ||
                    strstr(p, "/../"))
                        continue;
                if (lp <= strlen("/run") || strncmp(p, "/run/", 5) != 0)
                        continue;
                if ((strncmp(p, dir, ld) == 0 && (p[ld] == 0 || p[ld] == '/')) ||
                    (strncmp(dir, p, lp) == 0 && dir[lp] == '/'))
                        return true;
        }
        return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *copy = NULL, *why = NULL, *why_name = NULL;
        _cleanup_system_claims_ SystemClaims *claims = NULL;
        const char *name, *dir, *rest;
        size_t rest_size;
        int r;

        dirs_get();
        copy = malloc(size + 3);
        if (!copy)
                return 0;
        memcpy(copy, data, size);
        copy[size] = copy[size + 1] = copy[size + 2] = 0;
        name = copy;
        dir = name + strlen(name) + 1;
        if (dir > copy + size)
                dir = copy + size;
        rest = dir + strlen(dir) + 1;
        if (rest > copy + size)
                rest = copy + size;
        rest_size = (size_t) (copy + size - rest);

        write_file(tmpfiles_dir, "fuzz.conf", "", rest, rest_size);
        write_file(units_dir, "fuzz.service", "[Service]\nRuntimeDirectory=", rest, rest_size);
        char *tdirs[] = { tmpfiles_dir, NULL }, *udirs[] = { units_dir, NULL };
        r = system_claims_load_from("/run", tdirs, udirs, &claims);
        if (r == -ENOMEM)
                return 0;
        fuzz_check(r == 0 && claims);
        for (size_t i = 0; i < claims->n_dirs; i++) {
                fuzz_check(claims->dirs[i].what[0] == '/' && claims->dirs[i].source);
                for (const char *p = claims->dirs[i].what; *p; p++)
                        fuzz_check((unsigned char) *p >= ' ' && *p != 0x7F);
        }

        /* The directory, in both scopes. */
        for (int user = 0; user < 2; user++) {
                why = mfree(why);
                r = socket_directory_check(dir, user, claims, &why);
                if (r == -ENOMEM)
                        continue;
                fuzz_check(r == 0 || r == -EINVAL);
                fuzz_check((r == 0) == !why);
                /* The loader hands it only paths it checked (no control characters):
                 * then the message is one line, whatever the claims say. */
                if (why && path_is_normalized_absolute(dir))
                        fuzz_check(!strchr(why, '\n') && strlen(why) > 0);
                if (r == 0 && !user) {
                        /* below /run, and not one of systemd's */
                        fuzz_check(strncmp(dir, "/run/", 5) == 0 && dir[5] != 0);
                        fuzz_check(strncmp(dir, "/run/systemd", 12) != 0 || (dir[12] != 0 && dir[12] != '/'));
                        fuzz_check(strncmp(dir, "/run/user", 9) != 0 || (dir[9] != 0 && dir[9] != '/'));
                        fuzz_check(!overlaps_plain_claim(claims, dir));
                }
        }

        /* The name, as the loader would use it. */
        if (unit_prefix_is_valid(name)) {
                r = app_name_check(name, false, claims, &why_name);
                if (r == -ENOMEM)
                        return 0;
                fuzz_check(r == 0 || r == -EINVAL || r == -EEXIST);
                fuzz_check((r == 0) == !why_name);
                if (r == 0) {
                        _cleanup_free_ char *target = NULL;

                        fuzz_check(!target_is_special(name, false));
                        fuzz_check(asprintf(&target, "%s.target", name) >= 0);
                        fuzz_check(!system_claims_find_unit(claims, target));
                }
        }
        return 0;
}
