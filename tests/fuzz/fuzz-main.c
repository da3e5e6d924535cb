/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Stands in for libFuzzer when the targets are built without it (gcc, or clang without
 * -fsanitize=fuzzer): runs LLVMFuzzerTestOneInput once over every file named on the
 * command line or found in a directory named there (not recursively, in name order).
 * A crash, a sanitizer report or a failed check ends the run with that input named on
 * stderr; "N inputs" on success. No input at all is an error: a regression run over an
 * empty or missing corpus would prove nothing. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "macro.h"

static int run_file(const char *path) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        struct stat st;
        size_t n;

        f = fopen(path, "re");
        if (!f || fstat(fileno(f), &st) < 0) {
                fprintf(stderr, "Failed to open '%s': %m\n", path);
                return -errno;
        }
        /* Exactly the file's size, so that ASan catches a read past the end. */
        data = malloc(st.st_size > 0 ? (size_t) st.st_size : 1);
        if (!data)
                return -ENOMEM;
        n = fread(data, 1, (size_t) st.st_size, f);
        if (ferror(f) || n != (size_t) st.st_size) {
                fprintf(stderr, "Failed to read '%s'\n", path);
                return -EIO;
        }
        fprintf(stderr, "Running: %s (%zu bytes)\n", path, n);
        (void) LLVMFuzzerTestOneInput(data, n);
        return 0;
}

static int run_dir(const char *dir, unsigned *n_inputs) {
        struct dirent **entries = NULL;
        int n, r = 0;

        n = scandir(dir, &entries, NULL, alphasort);
        if (n < 0) {
                fprintf(stderr, "Failed to read directory '%s': %m\n", dir);
                return -errno;
        }
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;
                struct stat st;

                if (r >= 0 && entries[i]->d_name[0] != '.' &&
                    asprintf(&path, "%s/%s", dir, entries[i]->d_name) >= 0 &&
                    stat(path, &st) >= 0 && S_ISREG(st.st_mode)) {
                        r = run_file(path);
                        if (r >= 0)
                                (*n_inputs)++;
                }
                free(entries[i]);
        }
        free(entries);
        return r;
}

int main(int argc, char *argv[]) {
        unsigned n_inputs = 0;

        if (argc < 2) {
                fprintf(stderr, "Usage: %s CORPUS_DIR_OR_FILE...\n", program_invocation_short_name);
                return 2;
        }
        for (int i = 1; i < argc; i++) {
                struct stat st;
                int r;

                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "Failed to access '%s': %m\n", argv[i]);
                        return 1;
                }
                if (S_ISDIR(st.st_mode))
                        r = run_dir(argv[i], &n_inputs);
                else {
                        r = run_file(argv[i]);
                        if (r >= 0)
                                n_inputs++;
                }
                if (r < 0)
                        return 1;
        }
        if (n_inputs == 0) {
                fprintf(stderr, "No inputs found.\n");
                return 1;
        }
        printf("%u inputs\n", n_inputs);
        return 0;
}
