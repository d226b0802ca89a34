#include "common/qc.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void oom(void)
{
    fputs("qbench: out of memory\n", stderr);
    exit(QC_ERUNTIME);
}

void *qc_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom();
    return p;
}

void *qc_xrealloc(void *p, size_t size)
{
    p = realloc(p, size ? size : 1);
    if (!p)
        oom();
    return p;
}

char *qc_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = qc_xcalloc(n, 1);
    memcpy(d, s, n);
    return d;
}

void qc_msgs_vaddf(qc_msgs *m, const char *fmt, va_list ap)
{
    if (!m)
        return;
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    char *s = qc_xcalloc((size_t)n + 1, 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 8;
        m->v = qc_xrealloc(m->v, (size_t)m->cap * sizeof *m->v);
    }
    m->v[m->n++] = s;
}

void qc_msgs_addf(qc_msgs *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    qc_msgs_vaddf(m, fmt, ap);
    va_end(ap);
}

void qc_msgs_print(const qc_msgs *m, FILE *f)
{
    for (int i = 0; i < m->n; i++)
        fprintf(f, "qbench: %s\n", m->v[i]);
}

void qc_msgs_free(qc_msgs *m)
{
    for (int i = 0; i < m->n; i++)
        free(m->v[i]);
    free(m->v);
    m->v = NULL;
    m->n = m->cap = 0;
}

int qc_outfile_open(qc_outfile *o, const char *path, qc_msgs *err)
{
    memset(o, 0, sizeof *o);
    if (strcmp(path, "-") == 0) {
        o->f = stdout;
        o->path = qc_strdup(path);
        return QC_OK;
    }
    /* Temporary name beside the target so that rename() stays on one file system. */
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    size_t n = strlen(path) + 32;
    char *tmp = qc_xcalloc(n, 1);
    snprintf(tmp, n, "%.*s.%s.tmp-XXXXXX", (int)dirlen, path, path + dirlen);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        qc_msgs_addf(err, "%s: cannot create a file there: %s (check that the directory exists and is writable)",
                     path, strerror(errno));
        free(tmp);
        return QC_EINPUT;
    }
    fchmod(fd, 0644);
    o->f = fdopen(fd, "w");
    if (!o->f) {
        qc_msgs_addf(err, "%s: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        free(tmp);
        return QC_ERUNTIME;
    }
    o->path = qc_strdup(path);
    o->tmp = tmp;
    return QC_OK;
}

void qc_outfile_abort(qc_outfile *o)
{
    if (o->f && o->f != stdout)
        fclose(o->f);
    if (o->tmp)
        unlink(o->tmp);
    free(o->tmp);
    free(o->path);
    memset(o, 0, sizeof *o);
}

int qc_outfile_commit(qc_outfile *o, qc_msgs *err)
{
    if (o->f == stdout) {
        int bad = fflush(stdout) != 0 || ferror(stdout);
        free(o->path);
        memset(o, 0, sizeof *o);
        if (bad) {
            qc_msgs_addf(err, "standard output: write failed: %s", strerror(errno));
            return QC_ERUNTIME;
        }
        return QC_OK;
    }
    int bad = fflush(o->f) != 0 || ferror(o->f) || fsync(fileno(o->f)) != 0;
    int saved = errno;
    bad |= fclose(o->f) != 0;
    o->f = NULL;
    if (!bad && rename(o->tmp, o->path) != 0) {
        saved = errno;
        bad = 1;
    }
    if (bad) {
        qc_msgs_addf(err, "%s: write failed: %s (the file was left as it was)", o->path, strerror(saved));
        qc_outfile_abort(o);
        return QC_ERUNTIME;
    }
    free(o->tmp);
    free(o->path);
    memset(o, 0, sizeof *o);
    return QC_OK;
}

int qc_read_file(const char *path, char **data, size_t *len, qc_msgs *err)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        qc_msgs_addf(err, "%s: cannot open: %s (check the path)", path, strerror(errno));
        return QC_EINPUT;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        qc_msgs_addf(err, "%s: is a directory (give a file)", path);
        return QC_EINPUT;
    }
    size_t cap = 4096, n = 0;
    char *buf = qc_xcalloc(cap, 1);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = qc_xrealloc(buf, cap);
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        qc_msgs_addf(err, "%s: read error", path);
        return QC_ERUNTIME;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return QC_OK;
}

void qc_utc_now(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const char *qc_format_bytes(double bytes, char *buf, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024.0 && u < 4) {
        bytes /= 1024.0;
        u++;
    }
    if (bytes == (double)(long long)bytes)
        snprintf(buf, len, "%lld %s", (long long)bytes, units[u]);
    else
        snprintf(buf, len, "%.1f %s", bytes, units[u]);
    return buf;
}

double qc_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

qc_summary qc_summarize(double *v, int n)
{
    qc_summary s = {0};
    if (n <= 0)
        return s;
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++)
        sum += v[i];
    double mean = sum / n;
    for (int i = 0; i < n; i++)
        sq += (v[i] - mean) * (v[i] - mean);
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    s.median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    s.min = v[0];
    s.max = v[n - 1];
    s.cv = n > 1 && mean != 0 ? sqrt(sq / (n - 1)) / mean : 0;
    s.n = n;
    return s;
}
