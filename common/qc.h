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

/* Atomic output file: written under a temporary name in the target's directory, renamed into
 * place by commit, so an interrupted or failed write never leaves a truncated file at `path`.
 *  - "-" is standard output;
 *  - a path that exists and is not a regular file (a device such as /dev/null, a FIFO, a
 *    terminal; anything under /dev or /proc, such as /dev/stdout) is written in place;
 *  - a symbolic link is followed: the file it names is replaced, the link stays;
 *  - a file that exists keeps its permissions; a new one gets 0666 less the umask;
 *  - a directory is refused. */
typedef struct qc_outfile {
    FILE *f;
    char *path;    /* as given, for messages */
    char *target;  /* what commit renames onto (the link's file); NULL when written in place */
    char *tmp;     /* NULL when written in place */
} qc_outfile;

int qc_outfile_open(qc_outfile *o, const char *path, qc_msgs *err);
/* Flush, fsync, close and rename; on any failure the temporary file is removed. */
int qc_outfile_commit(qc_outfile *o, qc_msgs *err);
void qc_outfile_abort(qc_outfile *o);

/* An output folder for one writer at a time: dir/.qbench.lock, held (flock) until released or
 * the process ends. A second taker is refused with a message naming the holder (its pid, host,
 * start time and command line, which `who` describes). Holding it, the holder removes the
 * temporary files an interrupted run of qbench left in the folder (qc_outfile's names). */
typedef struct qc_dirlock {
    int fd;
} qc_dirlock;
int qc_dirlock_take(qc_dirlock *l, const char *dir, const char *who, qc_msgs *err);
void qc_dirlock_release(qc_dirlock *l);

/* Read a whole file (a FIFO too) into a NUL-terminated buffer (len excludes the NUL); more
 * than max bytes is an error naming the limit, `what` saying what the file should be. */
int qc_read_file(const char *path, size_t max, const char *what, char **data, size_t *len, qc_msgs *err);

/* The one strict number parser: the whole text is a number (no trailing characters, no
 * empty text), within [lo, hi]; QC_EINPUT otherwise, with `what` naming it in the message. */
int qc_parse_long(const char *text, long lo, long hi, const char *what, long *out, qc_msgs *err);
int qc_parse_int(const char *text, int lo, int hi, const char *what, int *out, qc_msgs *err);
int qc_parse_double(const char *text, double lo, double hi, const char *what, double *out, qc_msgs *err);

/* The allocator for streamed data (weights, outputs, workspaces, the bandwidth probe): 64-byte
 * aligned; from 2 MiB on, 2 MiB aligned and advised into transparent huge pages, as a serving
 * engine's allocator does, so that a weight stream is not bounded by 4 KiB page walks and the
 * probe and the kernels see one memory system. NULL on failure; free with free(). */
void *qc_alloc(size_t bytes);

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
