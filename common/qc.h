/* qbench common helpers: the one error mechanism and the one way to write a file.
 *
 * Status codes double as exit codes (DESIGN.md): 0 ok, 1 runtime failure, 2 bad input.
 * Every fallible call returns one of them and appends human-readable messages to a
 * qc_msgs list; messages are formatted as "<file>:<line>: <what is wrong> (<what to do>)"
 * or "<what is wrong> (<what to do>)" and the CLI prefixes them with "qbench: ". */
#ifndef QBENCH_COMMON_QC_H
#define QBENCH_COMMON_QC_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { QC_OK = 0, QC_ERUNTIME = 1, QC_EINPUT = 2 };

typedef struct qc_msgs {
    char **v;
    int n, cap;
} qc_msgs;

void qc_msgs_addf(qc_msgs *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void qc_msgs_vaddf(qc_msgs *m, const char *fmt, va_list ap);
/* Print every message as "qbench: <msg>" to f. */
void qc_msgs_print(const qc_msgs *m, FILE *f);
void qc_msgs_free(qc_msgs *m);

/* Atomic output file: written under a temporary name in the target's directory,
 * renamed into place by commit. An interrupted or failed write never leaves a
 * truncated file at `path`. path "-" means standard output (no rename). */
typedef struct qc_outfile {
    FILE *f;
    char *path;
    char *tmp; /* NULL for stdout */
} qc_outfile;

int qc_outfile_open(qc_outfile *o, const char *path, qc_msgs *err);
/* Flush, fsync, close and rename; on any failure the temporary file is removed. */
int qc_outfile_commit(qc_outfile *o, qc_msgs *err);
void qc_outfile_abort(qc_outfile *o);

/* Read a whole file into a NUL-terminated buffer (len excludes the NUL). */
int qc_read_file(const char *path, char **data, size_t *len, qc_msgs *err);

char *qc_strdup(const char *s); /* NULL-safe; aborts on out-of-memory */
void *qc_xcalloc(size_t n, size_t size);
void *qc_xrealloc(void *p, size_t size);

/* "2026-11-21T09:47:48Z" for now, into buf (at least 21 bytes). */
void qc_utc_now(char *buf, size_t len);

/* Monotonic seconds. */
double qc_now(void);

/* Statistics of n samples (sorted in place): median, min, max and coefficient of variation. */
typedef struct qc_summary {
    double median, min, max, cv;
    int n;
} qc_summary;
qc_summary qc_summarize(double *v, int n);

/* "32 KiB", "1 MiB", "23.4 GiB" into buf. */
const char *qc_format_bytes(double bytes, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
