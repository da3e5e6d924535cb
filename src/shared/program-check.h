/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Can the dynamic loader preload a library into @path when it is executed? Not into a
 * static program (an ELF file without PT_INTERP), and not into a setuid or setgid one
 * (the loader ignores LD_PRELOAD there). A script (#!) is judged by its interpreter,
 * which cannot be told from here: yes.
 * Returns 1 if it can, 0 if not (*ret_why says why, in words), or a negative errno if
 * @path cannot be read. */
int program_preloadable(const char *path, char **ret_why);
