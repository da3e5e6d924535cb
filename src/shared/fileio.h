/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Replaces @path by @text, mode 0644, at once: a temporary file beside it (a name of its
 * own, so that two writers never share one), synced, renamed over it. Whoever reads
 * @path (nginx, the generator, a restarted worker) sees the old file or the new one,
 * never half of one. On failure @path is as it was and nothing is left beside it. */
int write_file_atomic(const char *path, const char *text);

/* The whole file as a string in *ret; 0 with *ret NULL if it does not exist. A file
 * with a NUL byte is cut there: these are text files. */
int read_file_optional(const char *path, char **ret);
