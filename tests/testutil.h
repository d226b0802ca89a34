/* Helpers shared by the tests: temporary files and running the qbench binary. */
#ifndef QBENCH_TESTS_TESTUTIL_H
#define QBENCH_TESTS_TESTUTIL_H

#include <stddef.h>

/* Writes len bytes to a new temporary file; returns its path (free it; unlink it). */
char *tu_write_temp(const void *data, size_t len, const char *suffix);
/* A path (or any text) from a printf format, in one of 8 buffers used in turn: valid until the
 * eighth call after it. */
char *tu_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reads a file into a NUL-terminated string (NULL when missing). */
char *tu_slurp(const char *path);
/* Cache `index` of cpu0 as the kernel reports it in sysfs: level, type ("Data", "Instruction",
 * "Unified") and size in KiB. 0 when there is no such index (the caches are indices 0, 1, ...). */
int tu_cpu0_cache(int index, int *level, char *type, size_t type_len, long *kib);
/* Runs `exe args...` (args NULL-terminated) and returns its exit status; stdout and
 * stderr are captured into *out and *err (free them). */
int tu_run(const char *exe, const char *const *args, char **out, char **err);

/* Starts `exe args...` with stdout and stderr going to the given files; returns its pid. */
int tu_start(const char *exe, const char *const *args, const char *out_path, const char *err_path);
/* Waits for it: its exit status, or 128 + the signal that ended it. */
int tu_wait(int pid);

#endif
