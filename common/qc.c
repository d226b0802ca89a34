#include "common/qc.h"

#include <dirent.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sys/file.h>
#include <sys/mman.h>
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

void *qc_alloc(size_t bytes)
{
    const size_t huge = (size_t)2 << 20;
    void *p = NULL;
    if (bytes >= huge) {
        size_t n = (bytes + huge - 1) / huge * huge;
        if (posix_memalign(&p, huge, n) != 0)
            return NULL;
        (void)madvise(p, n, MADV_HUGEPAGE); /* advice only: without THP the pages stay 4 KiB */
        return p;
    }
    if (posix_memalign(&p, 64, bytes ? (bytes + 63) / 64 * 64 : 64) != 0)
        return NULL;
    return p;
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

/* Where a path's symbolic links lead, when the last one names a file that does not exist yet
 * (realpath fails there): each link's target, relative to the link's directory. */
static char *follow_links(const char *path)
{
    char *cur = qc_strdup(path);
    for (int hops = 0; hops < 40; hops++) {
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode))
            return cur;
        char link[4096];
        ssize_t n = readlink(cur, link, sizeof link - 1);
        if (n < 0)
            return cur;
        link[n] = '\0';
        char *next;
        const char *slash = strrchr(cur, '/');
        if (link[0] == '/' || !slash) {
            next = qc_strdup(link);
        } else {
            size_t len = (size_t)(slash - cur) + 1 + (size_t)n + 1;
            next = qc_xcalloc(len, 1);
            snprintf(next, len, "%.*s/%s", (int)(slash - cur), cur, link);
        }
        free(cur);
        cur = next;
    }
    return cur;
}

int qc_outfile_open(qc_outfile *o, const char *path, qc_msgs *err)
{
    memset(o, 0, sizeof *o);
    o->path = qc_strdup(path);
    if (strcmp(path, "-") == 0) {
        o->f = stdout;
        return QC_OK;
    }
    struct stat st;
    int exists = stat(path, &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) {
        qc_msgs_addf(err, "%s: is a directory (give a file name)", path);
        free(o->path);
        o->path = NULL;
        return QC_EINPUT;
    }
    if ((exists && !S_ISREG(st.st_mode)) || !strncmp(path, "/dev/", 5) || !strncmp(path, "/proc/", 6)) {
        /* a device, a FIFO, a terminal: written as it is, never replaced */
        o->f = fopen(path, "w");
        if (!o->f) {
            qc_msgs_addf(err, "%s: cannot write there: %s", path, strerror(errno));
            free(o->path);
            o->path = NULL;
            return QC_EINPUT;
        }
        return QC_OK;
    }
    /* a regular file, or a new one: replaced atomically; through a link, the file it names */
    char *real = exists ? realpath(path, NULL) : NULL;
    o->target = real ? real : follow_links(path);
    mode_t mode;
    if (exists) {
        mode = st.st_mode & 07777;
    } else {
        mode_t mask = umask(0);
        umask(mask);
        mode = 0666 & ~mask;
    }
    /* the temporary name beside the target, so that rename() stays on one file system */
    const char *slash = strrchr(o->target, '/');
    size_t dirlen = slash ? (size_t)(slash - o->target) + 1 : 0;
    size_t n = strlen(o->target) + 32;
    char *tmp = qc_xcalloc(n, 1);
    snprintf(tmp, n, "%.*s.%s.tmp-XXXXXX", (int)dirlen, o->target, o->target + dirlen);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        qc_msgs_addf(err, "%s: cannot create a file there: %s (check that the directory exists and is writable)",
                     path, strerror(errno));
        free(tmp);
        qc_outfile_abort(o);
        return QC_EINPUT;
    }
    o->tmp = tmp;
    if (fchmod(fd, mode) != 0 || !(o->f = fdopen(fd, "w"))) {
        qc_msgs_addf(err, "%s: %s", path, strerror(errno));
        close(fd);
        qc_outfile_abort(o);
        return QC_ERUNTIME;
    }
    return QC_OK;
}

void qc_outfile_abort(qc_outfile *o)
{
    if (o->f && o->f != stdout)
        fclose(o->f);
    if (o->tmp)
        unlink(o->tmp);
    free(o->tmp);
    free(o->target);
    free(o->path);
    memset(o, 0, sizeof *o);
}

int qc_outfile_commit(qc_outfile *o, qc_msgs *err)
{
    if (!o->tmp) { /* standard output, or written in place */
        int bad = fflush(o->f) != 0 || ferror(o->f);
        int saved = errno;
        if (o->f != stdout)
            bad |= fclose(o->f) != 0;
        o->f = NULL;
        if (bad)
            qc_msgs_addf(err, "%s: write failed: %s", strcmp(o->path, "-") ? o->path : "standard output",
                         strerror(saved ? saved : EIO));
        qc_outfile_abort(o);
        return bad ? QC_ERUNTIME : QC_OK;
    }
    int bad = fflush(o->f) != 0 || ferror(o->f) || fsync(fileno(o->f)) != 0;
    int saved = errno;
    bad |= fclose(o->f) != 0;
    o->f = NULL;
    if (!bad && rename(o->tmp, o->target) != 0) {
        saved = errno;
        bad = 1;
    }
    if (bad) {
        qc_msgs_addf(err, "%s: write failed: %s (the file was left as it was)", o->path, strerror(saved ? saved : EIO));
        qc_outfile_abort(o);
        return QC_ERUNTIME;
    }
    free(o->tmp);
    o->tmp = NULL;
    qc_outfile_abort(o); /* frees the names */
    return QC_OK;
}

/* Is this one of qc_outfile's temporary names, ".NAME.tmp-XXXXXX"? */
static int outfile_temp_name(const char *name)
{
    const char *t = strstr(name, ".tmp-");
    if (name[0] != '.' || !t || t == name + 1 || strlen(t + 5) != 6)
        return 0;
    for (const char *c = t + 5; *c; c++)
        if (!isalnum((unsigned char)*c))
            return 0;
    return 1;
}

/* What an interrupted run left behind in dir (and, depth 1, its subfolders): nobody else
 * writes there while the lock is held. */
static void remove_stale(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (outfile_temp_name(e->d_name) && lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (unlink(path) == 0)
                fprintf(stderr, "qbench: removed %s, left by an interrupted run\n", path);
        } else if (depth > 0 && e->d_name[0] != '.' && lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            remove_stale(path, depth - 1);
        }
    }
    if (d)
        closedir(d);
}

int qc_dirlock_take(qc_dirlock *l, const char *dir, const char *who, qc_msgs *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/.qbench.lock", dir);
    l->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (l->fd < 0) {
        qc_msgs_addf(err, "%s: cannot create a lock there: %s (check that the folder is writable)", dir,
                     strerror(errno));
        return QC_EINPUT;
    }
    if (flock(l->fd, LOCK_EX | LOCK_NB) != 0) {
        char holder[512] = "";
        ssize_t n = pread(l->fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        qc_msgs_addf(err, "%s is being written by another qbench (%s); wait for it to finish, or give another output "
                          "folder", dir, holder[0] ? holder : "its details are not written yet");
        close(l->fd);
        l->fd = -1;
        return QC_EINPUT;
    }
    char host[256] = "?", date[32], line[1024];
    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    qc_utc_now(date, sizeof date);
    int len = snprintf(line, sizeof line, "pid %ld on %s since %s: %s\n", (long)getpid(), host, date, who);
    if (ftruncate(l->fd, 0) != 0 || pwrite(l->fd, line, (size_t)len, 0) != len) {
        qc_msgs_addf(err, "%s: cannot write the lock: %s", path, strerror(errno));
        qc_dirlock_release(l);
        return QC_ERUNTIME;
    }
    remove_stale(dir, 1);
    return QC_OK;
}

void qc_dirlock_release(qc_dirlock *l)
{
    if (l->fd >= 0)
        close(l->fd); /* releases the flock */
    l->fd = -1;
}

int qc_read_file(const char *path, size_t max, const char *what, char **data, size_t *len, qc_msgs *err)
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
        if (n > max) {
            char b[32];
            fclose(f);
            free(buf);
            qc_msgs_addf(err, "%s: larger than %s, more than %s can be (give the right file)", path,
                         qc_format_bytes((double)max, b, sizeof b), what);
            return QC_EINPUT;
        }
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

int qc_parse_long(const char *text, long lo, long hi, const char *what, long *out, qc_msgs *err)
{
    char *end = NULL;
    errno = 0;
    long v = text ? strtol(text, &end, 10) : 0;
    if (!text || !*text || end == text || *end || errno || v < lo || v > hi) {
        qc_msgs_addf(err, "%s '%s': expected a whole number from %ld to %ld", what, text ? text : "", lo, hi);
        return QC_EINPUT;
    }
    *out = v;
    return QC_OK;
}

int qc_parse_int(const char *text, int lo, int hi, const char *what, int *out, qc_msgs *err)
{
    long v;
    if (qc_parse_long(text, lo, hi, what, &v, err))
        return QC_EINPUT;
    *out = (int)v;
    return QC_OK;
}

int qc_parse_double(const char *text, double lo, double hi, const char *what, double *out, qc_msgs *err)
{
    char *end = NULL;
    errno = 0;
    double v = text ? strtod(text, &end) : 0;
    if (!text || !*text || end == text || *end || errno || !(v >= lo && v <= hi)) {
        qc_msgs_addf(err, "%s '%s': expected a number from %g to %g", what, text ? text : "", lo, hi);
        return QC_EINPUT;
    }
    *out = v;
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
