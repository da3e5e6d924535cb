/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

int write_file_atomic(const char *path, const char *text) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t len = strlen(text), done = 0;

        if (asprintf(&tmp, "%s.tmp-XXXXXX", path) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (fchmod(fd, 0644) < 0)
                goto fail;
        while (done < len) {
                ssize_t n = write(fd, text + done, len - done);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        goto fail;
                }
                done += (size_t) n;
        }
        if (fsync(fd) < 0 || rename(tmp, path) < 0)
                goto fail;
        return 0;

fail:;
        int r = negative_errno();

        (void) unlink(tmp);
        return r;
}

int read_file_optional(const char *path, char **ret) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *text = NULL;
        size_t size = 0;

        *ret = NULL;
        f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? 0 : negative_errno();
        if (getdelim(&text, &size, '\0', f) < 0) {
                if (ferror(f))
                        return errno > 0 ? -errno : -EIO;
                /* An empty file: getdelim() read nothing. */
                free(text);
                text = strdup("");
                if (!text)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(text);
        return 0;
}
