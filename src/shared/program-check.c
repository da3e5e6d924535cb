/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "macro.h"
#include "program-check.h"

static bool read_at(int fd, void *buf, size_t size, off_t offset) {
        return pread(fd, buf, size, offset) == (ssize_t) size;
}

/* 1 if the program headers have PT_INTERP, 0 if not, -ENOEXEC if they cannot be read. */
static int elf_has_interp(int fd, const unsigned char *ident) {
        if (ident[EI_CLASS] == ELFCLASS64) {
                Elf64_Ehdr eh;

                if (!read_at(fd, &eh, sizeof eh, 0) || eh.e_phentsize != sizeof(Elf64_Phdr))
                        return -ENOEXEC;
                for (unsigned i = 0; i < eh.e_phnum; i++) {
                        Elf64_Phdr ph;
                        if (!read_at(fd, &ph, sizeof ph, (off_t) (eh.e_phoff + (uint64_t) i * sizeof ph)))
                                return -ENOEXEC;
                        if (ph.p_type == PT_INTERP)
                                return 1;
                }
                return 0;
        }
        if (ident[EI_CLASS] == ELFCLASS32) {
                Elf32_Ehdr eh;

                if (!read_at(fd, &eh, sizeof eh, 0) || eh.e_phentsize != sizeof(Elf32_Phdr))
                        return -ENOEXEC;
                for (unsigned i = 0; i < eh.e_phnum; i++) {
                        Elf32_Phdr ph;
                        if (!read_at(fd, &ph, sizeof ph, (off_t) (eh.e_phoff + (uint64_t) i * sizeof ph)))
                                return -ENOEXEC;
                        if (ph.p_type == PT_INTERP)
                                return 1;
                }
                return 0;
        }
        return -ENOEXEC;
}

int program_preloadable(const char *path, char **ret_why) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        unsigned char ident[EI_NIDENT];
        struct stat st;
        int r;

        if (fd < 0 || fstat(fd, &st) < 0)
                return negative_errno();
        if (st.st_mode & (S_ISUID | S_ISGID))
                return asprintf(ret_why, "'%s' is set%cid, and the loader ignores LD_PRELOAD for such programs", path,
                                st.st_mode & S_ISUID ? 'u' : 'g') < 0 ? -ENOMEM : 0;
        if (!S_ISREG(st.st_mode) || !read_at(fd, ident, sizeof ident, 0) || memcmp(ident, ELFMAG, SELFMAG) != 0)
                return 1; /* a script, say: its interpreter decides */
        r = elf_has_interp(fd, ident);
        if (r < 0)
                return 1; /* not an ELF file we can read: let exec decide */
        if (r == 0)
                return asprintf(ret_why, "'%s' is a static program, which loads no library", path) < 0 ? -ENOMEM : 0;
        return 1;
}
