/* gnuplot templates and the code that feeds them. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/qk.h"
#include "plots/plot.h"

/* one colour per scheme, the same in every picture */
static const char *const colour[QK_SCHEME_COUNT] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"};

/* The gnuplot program on PATH, or NULL. */
static const char *gnuplot_path(char *buf, size_t len)
{
    const char *path = getenv("PATH");
    char *copy = qc_strdup(path ? path : "/usr/bin:/bin"), *save = NULL;
    const char *found = NULL;
    for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        snprintf(buf, len, "%s/gnuplot", *d ? d : ".");
        if (access(buf, X_OK) == 0)
            found = buf;
    }
    free(copy);
    return found;
}

int qv_available(char *why, size_t len)
{
    char buf[4096];
    if (!gnuplot_path(buf, sizeof buf)) {
        snprintf(why, len, "gnuplot is not installed (apt-get install gnuplot-nox)");
        return 0;
    }
    return 1;
}

/* s inside a single-quoted gnuplot string: a quote doubled, nothing that ends the line. No
 * substitution happens inside single quotes. */
static void gp_quote(char *out, size_t len, const char *s)
{
    size_t o = 0;
    out[o++] = '\'';
    for (const unsigned char *c = (const unsigned char *)s; *c && o + 4 < len; c++) {
        if (*c == '\'')
            out[o++] = '\'', out[o++] = '\'';
        else
            out[o++] = *c < 0x20 || *c == 0x7f ? '?' : (char)*c;
    }
    out[o++] = '\'';
    out[o] = '\0';
}

/* A picture's files: its data and script are written whole (temporary name, then rename);
 * gnuplot draws into temporary names that are renamed when it succeeds. */
typedef struct pic {
    const char *dir;
    char base[128];
    qc_outfile dat, gp;
} pic;

static int pic_open(pic *p, const char *dir, const char *base, qc_msgs *err)
{
    memset(p, 0, sizeof *p);
    p->dir = dir;
    snprintf(p->base, sizeof p->base, "%s", base);
    char path[4300];
    snprintf(path, sizeof path, "%s/%s.dat", dir, base);
    if (qc_outfile_open(&p->dat, path, err))
        return QC_ERUNTIME;
    snprintf(path, sizeof path, "%s/%s.gp", dir, base);
    if (qc_outfile_open(&p->gp, path, err)) {
        qc_outfile_abort(&p->dat);
        return QC_ERUNTIME;
    }
    return QC_OK;
}

/* The data file's name in the script (quoted). */
static void pic_dat(const pic *p, char *out, size_t len)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/%s.dat", p->dir, p->base);
    gp_quote(out, len, path);
}

/* Runs gnuplot on the script, without a shell, its output captured for the message; `set`
 * is a gnuplot statement run first (the pictures' temporary names). */
static int run_gnuplot(const char *set, const char *script, qc_msgs *err)
{
    char exe[4096];
    if (!gnuplot_path(exe, sizeof exe)) {
        qc_msgs_addf(err, "gnuplot is not installed (apt-get install gnuplot-nox)");
        return QC_ERUNTIME;
    }
    int fds[2];
    if (pipe(fds) != 0) {
        qc_msgs_addf(err, "gnuplot: %s", strerror(errno));
        return QC_ERUNTIME;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, 0);
        execl(exe, "gnuplot", "-e", set, script, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char out[2048];
    size_t got = 0;
    ssize_t r;
    char sink[1024];
    while ((r = read(fds[0], got < sizeof out - 1 ? out + got : sink,
                     got < sizeof out - 1 ? sizeof out - 1 - got : sizeof sink)) > 0)
        if (got < sizeof out - 1)
            got += (size_t)r;
    out[got] = '\0';
    close(fds[0]);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        strstr(out, "error")) {
        qc_msgs_addf(err, "gnuplot failed on %s: %s", script, out[0] ? out : "(no output)");
        return QC_ERUNTIME;
    }
    return QC_OK;
}

/* Commits the data and the script (which draws `body` as PNG, then SVG, into temporary
 * names), runs gnuplot, and renames the pictures into place. */
static int pic_draw(pic *p, const char *body, qc_msgs *err)
{
    char png[4300], svg[4300], tpng[4400], tsvg[4400], q1[4400], q2[4400], script[4300], set[9000];
    snprintf(png, sizeof png, "%s/%s.png", p->dir, p->base);
    snprintf(svg, sizeof svg, "%s/%s.svg", p->dir, p->base);
    /* the pictures' temporary names, qc_outfile's kind (an interrupted run's are found by them) */
    snprintf(tpng, sizeof tpng, "%s/.%s.png.tmp-XXXXXX", p->dir, p->base);
    snprintf(tsvg, sizeof tsvg, "%s/.%s.svg.tmp-XXXXXX", p->dir, p->base);
    int f1 = mkstemp(tpng), f2 = f1 >= 0 ? mkstemp(tsvg) : -1;
    mode_t mask = umask(0);
    umask(mask);
    if (f1 >= 0)
        fchmod(f1, 0666 & ~mask), close(f1);
    if (f2 >= 0)
        fchmod(f2, 0666 & ~mask), close(f2);
    if (f1 < 0 || f2 < 0) {
        qc_msgs_addf(err, "%s: cannot create a file there: %s", p->dir, strerror(errno));
        if (f1 >= 0)
            unlink(tpng);
        qc_outfile_abort(&p->dat);
        qc_outfile_abort(&p->gp);
        return QC_ERUNTIME;
    }
    snprintf(script, sizeof script, "%s", p->gp.path);
    /* the script draws into png and svg: the final names, unless the caller names others */
    gp_quote(q1, sizeof q1, png);
    gp_quote(q2, sizeof q2, svg);
    fprintf(p->gp.f, "if (!exists('png')) png = %s\nif (!exists('svg')) svg = %s\n", q1, q2);
    /* noenhanced: names like fp32_fma are text, not subscripts */
    fprintf(p->gp.f, "set terminal pngcairo size 1100,700 noenhanced font 'DejaVu Sans,11'\nset output png\n%s",
            body);
    fprintf(p->gp.f, "set terminal svg size 1100,700 dynamic noenhanced font 'DejaVu Sans,11'\nset output svg\n"
                     "replot\n");
    gp_quote(q1, sizeof q1, tpng);
    gp_quote(q2, sizeof q2, tsvg);
    snprintf(set, sizeof set, "png = %s; svg = %s", q1, q2);
    int rc = qc_outfile_commit(&p->dat, err);
    if (rc) {
        qc_outfile_abort(&p->gp);
        return rc;
    }
    if ((rc = qc_outfile_commit(&p->gp, err)))
        return rc;
    rc = run_gnuplot(set, script, err);
    struct stat st;
    for (int i = 0; i < 2 && !rc; i++)
        if (stat(i ? tsvg : tpng, &st) != 0 || st.st_size == 0) {
            qc_msgs_addf(err, "%s: gnuplot wrote an empty picture (is the disk full?)", i ? svg : png);
            rc = QC_ERUNTIME;
        }
    if (!rc && (rename(tpng, png) != 0 || rename(tsvg, svg) != 0)) {
        qc_msgs_addf(err, "%s: %s", png, strerror(errno));
        rc = QC_ERUNTIME;
    }
    if (rc) {
        unlink(tpng);
        unlink(tsvg);
    }
    return rc;
}

static int has_scheme(const qv_input *in, int s)
{
    for (int i = 0; i < in->n_points; i++)
        if (in->points[i].scheme == s && in->points[i].gflops > 0)
            return 1;
    return 0;
}

/* Appends to a growing text. */
typedef struct text {
    char *s;
    size_t n, cap;
} text;

__attribute__((format(printf, 2, 3))) static void add(text *t, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int w = vsnprintf(t->s ? t->s + t->n : NULL, t->s ? t->cap - t->n : 0, fmt, ap);
        va_end(ap);
        if (w >= 0 && t->s && t->n + (size_t)w < t->cap) {
            t->n += (size_t)w;
            return;
        }
        t->cap = t->cap * 2 + (size_t)(w > 0 ? w : 0) + 256;
        t->s = qc_xrealloc(t->s, t->cap);
    }
}

static int plot_roofline(const qv_input *in, const char *dir, qc_msgs *err)
{
    pic p;
    if (pic_open(&p, dir, "roofline", err))
        return QC_ERUNTIME;
    for (int s = 0; s < QK_SCHEME_COUNT; s++) {
        fprintf(p.dat.f, "# %s\n", qk_scheme_name((qk_scheme)s));
        int any = 0;
        for (int i = 0; i < in->n_points; i++)
            if (in->points[i].scheme == s && in->points[i].gflops > 0) {
                fprintf(p.dat.f, "%.6g %.6g\n", in->points[i].intensity, in->points[i].gflops);
                any = 1;
            }
        if (!any)
            fprintf(p.dat.f, "nan nan\n");
        fprintf(p.dat.f, "\n\n");
    }
    double ymax = 1, ymin = 1e30, xmin = 1e9, xmax = 1;
    for (int i = 0; i < in->n_ceilings; i++)
        if (in->ceilings[i].gops > ymax)
            ymax = in->ceilings[i].gops;
    for (int i = 0; i < in->n_points; i++) {
        if (in->points[i].intensity < xmin)
            xmin = in->points[i].intensity;
        if (in->points[i].intensity > xmax)
            xmax = in->points[i].intensity;
        if (in->points[i].gflops > 0 && in->points[i].gflops < ymin)
            ymin = in->points[i].gflops;
    }
    if (ymin > ymax)
        ymin = ymax / 100;
    char dev[256], dat[4400], q[128];
    gp_quote(dev, sizeof dev, in->device);
    pic_dat(&p, dat, sizeof dat);
    text b = {0};
    add(&b, "set title 'Roofline: '.%s.' (measured ceilings, every run)'\nset logscale xy\n"
            "set xlabel 'arithmetic intensity (FLOP/byte)'\nset ylabel 'GFLOP/s'\n"
            "set xrange [%g:%g]\nset yrange [%g:%g]\nset key outside right top\nset grid\nset samples 400\n"
            "roof(bw, x) = bw * x < %g ? bw * x : %g\nplot ",
        dev, xmin / 4, xmax * 4, ymin / 3, ymax * 3, ymax, ymax);
    int first = 1;
    for (int i = 0; i < in->n_ceilings; i++) { /* memory roofs meet the highest compute roof */
        const qv_ceiling *c = &in->ceilings[i];
        add(&b, "%s", first ? "" : ", ");
        first = 0;
        gp_quote(q, sizeof q, c->label);
        if (c->gbs > 0)
            add(&b, "roof(%g, x) w l lw 1.5 dt 2 lc rgb '#555555' t %s", c->gbs, q);
        else
            add(&b, "%g w l lw 1.5 dt 3 lc rgb '#999999' t %s", c->gops, q);
    }
    for (int s = 0; s < QK_SCHEME_COUNT; s++)
        if (has_scheme(in, s)) {
            add(&b, "%s%s index %d w p pt 7 ps 1.2 lc rgb '%s' t '%s'", first ? "" : ", ", dat, s, colour[s],
                qk_scheme_name((qk_scheme)s));
            first = 0;
        }
    for (int i = 0; i < in->n_model_roofs; i++) { /* each scheme's fitted roof */
        const qv_model_roof *m = &in->model_roofs[i];
        add(&b, "%s(%g * x < %g ? %g * x : %g) w l lw 2 dt 4 lc rgb '%s' t '%s model'", first ? "" : ", ", m->gbs,
            m->gops, m->gbs, m->gops, colour[(unsigned)m->scheme % QK_SCHEME_COUNT], qk_scheme_name((qk_scheme)m->scheme));
        first = 0;
    }
    add(&b, "\n");
    int rc = pic_draw(&p, b.s, err);
    free(b.s);
    return rc;
}

/* Lines against M (measured, and the model's dashed): a shape's GFLOP/s, or a model's tokens/s. */
static int plot_lines(const qv_input *in, const qv_shape *sh, const char *prefix, const char *title,
                      const char *ylabel, const char *dir, qc_msgs *err)
{
    char base[300];
    snprintf(base, sizeof base, "%s-%s", prefix, sh->name);
    for (char *c = base; *c; c++) /* a file name */
        if (*c == '/' || *c == ' ')
            *c = '_';
    pic p;
    if (pic_open(&p, dir, base, err))
        return QC_ERUNTIME;
    for (int l = 0; l < sh->n_lines; l++) { /* index 2l: measured; 2l + 1: the model */
        fprintf(p.dat.f, "# %d: M, %s (measured)\n", l, ylabel);
        for (int i = 0; i < sh->lines[l].n; i++)
            fprintf(p.dat.f, "%.0f %.6g\n", sh->lines[l].m[i], sh->lines[l].y[i]);
        if (!sh->lines[l].n)
            fprintf(p.dat.f, "nan nan\n");
        fprintf(p.dat.f, "\n\n# %d: M, %s (model)\n", l, ylabel);
        for (int i = 0; i < sh->lines[l].n_model; i++)
            fprintf(p.dat.f, "%.6g %.6g\n", sh->lines[l].model_m[i], sh->lines[l].model_y[i]);
        if (!sh->lines[l].n_model)
            fprintf(p.dat.f, "nan nan\n");
        fprintf(p.dat.f, "\n\n");
    }
    char dev[256], name[300], dat[4400], q[128], ttl[256], yl[160];
    gp_quote(dev, sizeof dev, in->device);
    gp_quote(name, sizeof name, sh->name);
    gp_quote(ttl, sizeof ttl, title);
    gp_quote(yl, sizeof yl, ylabel);
    pic_dat(&p, dat, sizeof dat);
    int modelled = 0;
    for (int l = 0; l < sh->n_lines; l++)
        modelled |= sh->lines[l].n_model > 0;
    text b = {0};
    add(&b, "set title %s.': '.%s.' on '.%s.' (measured%s)'\nset logscale xy\n"
            "set logscale x 2\nset xlabel 'M (tokens)'\nset ylabel %s\n"
            "set key outside right top\nset grid\nplot ",
        ttl, name, dev, modelled ? "; dashed: the model" : "", yl);
    int first = 1;
    for (int l = 0; l < sh->n_lines; l++) {
        const qv_line *ln = &sh->lines[l];
        gp_quote(q, sizeof q, ln->label);
        add(&b, "%s%s index %d w lp pt 7 lw 2 lc rgb '%s' t %s", first ? "" : ", ", dat, 2 * l,
            colour[(unsigned)ln->scheme % QK_SCHEME_COUNT], q);
        if (ln->n_model)
            add(&b, ", %s index %d w l lw 1.5 dt 2 lc rgb '%s' notitle", dat, 2 * l + 1,
                colour[(unsigned)ln->scheme % QK_SCHEME_COUNT]);
        first = 0;
    }
    add(&b, "\n");
    int rc = pic_draw(&p, b.s, err);
    free(b.s);
    return rc;
}

static int plot_winners(const qv_input *in, const char *dir, qc_msgs *err)
{
    /* rows: shapes (with their options); columns: M buckets; each cell coloured by the winner */
    const char **rows = qc_xcalloc((size_t)in->n_winners + 1, sizeof *rows);
    int *ms = qc_xcalloc((size_t)in->n_winners + 1, sizeof *ms), nr = 0, nm = 0;
    for (int i = 0; i < in->n_winners; i++) {
        const qv_cell *c = &in->winners[i];
        int s = 0, m = 0;
        while (s < nr && strcmp(rows[s], c->row))
            s++;
        if (s == nr)
            rows[nr++] = c->row;
        while (m < nm && ms[m] != c->m_hi)
            m++;
        if (m == nm)
            ms[nm++] = c->m_hi;
    }
    for (int i = 1; i < nm; i++)
        for (int j = i; j > 0 && ms[j] < ms[j - 1]; j--) {
            int t = ms[j];
            ms[j] = ms[j - 1];
            ms[j - 1] = t;
        }
    pic p;
    int rc = pic_open(&p, dir, "winners", err);
    if (rc) {
        free(rows), free(ms);
        return rc;
    }
    /* the whole grid, row by row, as gnuplot's image wants it: a cell no sweep measured (a
     * held-out shape stops at --holdout-max-m) is NaN: left blank */
    int *at = qc_xcalloc((size_t)nr * nm + 1, sizeof *at);
    for (int i = 0; i < nr * nm; i++)
        at[i] = -1;
    for (int i = 0; i < in->n_winners; i++) {
        const qv_cell *c = &in->winners[i];
        int s = 0, m = 0;
        while (strcmp(rows[s], c->row))
            s++;
        while (ms[m] != c->m_hi)
            m++;
        at[s * nm + m] = i;
    }
    fprintf(p.dat.f, "# column (M bucket), row (shape), winning scheme (NaN: not measured)\n");
    for (int s = 0; s < nr; s++)
        for (int m = 0; m < nm; m++) {
            const qv_cell *c = at[s * nm + m] >= 0 ? &in->winners[at[s * nm + m]] : NULL;
            if (!c) {
                fprintf(p.dat.f, "%d %d NaN \"\"\n", m, s);
                continue;
            }
            fprintf(p.dat.f, "%d %d %d \"%s%s%s\"\n", m, s, c->scheme, qk_scheme_name((qk_scheme)c->scheme),
                    c->tie_with >= 0 ? "=" : "", c->tie_with >= 0 ? qk_scheme_name((qk_scheme)c->tie_with) : "");
        }
    free(at);
    char dev[256], dat[4400], q[128];
    gp_quote(dev, sizeof dev, in->device);
    pic_dat(&p, dat, sizeof dat);
    text b = {0};
    add(&b, "set title 'Fastest scheme per M bucket and shape on '.%s.' (a=b: a tie, the more accurate first; blank: not measured)'\n"
            "set xlabel 'M (bucket upper bound)'\n"
            "set ylabel 'layer shape (N x K)'\nset xrange [-0.5:%d.5]\nset yrange [-0.5:%d.5]\n"
            "set cbrange [-0.5:%d.5]\nunset colorbox\nset key off\nset palette defined (",
        dev, nm - 1, nr - 1, QK_SCHEME_COUNT - 1);
    for (int s = 0; s < QK_SCHEME_COUNT; s++)
        add(&b, "%d '%s'%s", s, colour[s], s + 1 < QK_SCHEME_COUNT ? ", " : ")\n");
    add(&b, "set xtics (");
    for (int m = 0; m < nm; m++)
        add(&b, "'%d' %d%s", ms[m], m, m + 1 < nm ? ", " : ")\n");
    add(&b, "set ytics (");
    for (int s = 0; s < nr; s++) {
        gp_quote(q, sizeof q, rows[s]);
        add(&b, "%s %d%s", q, s, s + 1 < nr ? ", " : ")\n");
    }
    add(&b, "plot %s using 1:2:3 with image, '' using 1:2:4 with labels font ',10' tc rgb 'white'\n", dat);
    rc = pic_draw(&p, b.s, err);
    free(b.s);
    free(rows);
    free(ms);
    return rc;
}

static int plot_residuals(const qv_input *in, const char *dir, qc_msgs *err)
{
    pic p;
    if (pic_open(&p, dir, "residuals", err))
        return QC_ERUNTIME;
    /* index 2s: fitted points of scheme s; 2s + 1: its held-out points */
    double lo = 0.9, hi = 1.1, mmax = 1;
    for (int s = 0; s < QK_SCHEME_COUNT; s++)
        for (int held = 0; held <= 1; held++) {
            fprintf(p.dat.f, "# %s%s: M, predicted / measured\n", qk_scheme_name((qk_scheme)s), held ? " held out" : "");
            int any = 0;
            for (int i = 0; i < in->n_residuals; i++) {
                const qv_residual *r = &in->residuals[i];
                if (r->scheme != s || r->held_out != held || !(r->ratio > 0))
                    continue;
                fprintf(p.dat.f, "%.6g %.6g\n", r->m, r->ratio);
                lo = r->ratio < lo ? r->ratio : lo;
                hi = r->ratio > hi ? r->ratio : hi;
                mmax = r->m > mmax ? r->m : mmax;
                any = 1;
            }
            if (!any)
                fprintf(p.dat.f, "nan nan\n");
            fprintf(p.dat.f, "\n\n");
        }
    char dev[256], dat[4400];
    gp_quote(dev, sizeof dev, in->device);
    pic_dat(&p, dat, sizeof dat);
    text b = {0};
    add(&b, "set title 'The model against the measurements on '.%s.' (hollow: held out of the fit)'\n"
            "set logscale x 2\nset logscale y\nset xlabel 'M (tokens)'\nset ylabel 'predicted / measured time'\n"
            "set xrange [0.7:%g]\nset yrange [%g:%g]\nset key outside right top\nset grid\n"
            "plot 1 w l lw 1.5 lc rgb '#555555' t 'exact', 1.1 w l dt 2 lc rgb '#999999' t '10%%', "
            "0.9 w l dt 2 lc rgb '#999999' notitle",
        dev, mmax * 1.5, lo / 1.1, hi * 1.1);
    for (int s = 0; s < QK_SCHEME_COUNT; s++)
        for (int held = 0; held <= 1; held++) {
            int any = 0;
            for (int i = 0; i < in->n_residuals; i++)
                any |= in->residuals[i].scheme == s && in->residuals[i].held_out == held;
            if (any)
                add(&b, ", %s index %d w p pt %d ps 1.3 lc rgb '%s' t '%s%s'", dat, 2 * s + held, held ? 6 : 7, colour[s],
                    qk_scheme_name((qk_scheme)s), held ? " held out" : "");
        }
    add(&b, "\n");
    int rc = pic_draw(&p, b.s, err);
    free(b.s);
    return rc;
}

int qv_plot(const qv_input *in, const char *dir, int *written, qc_msgs *err)
{
    *written = 0;
    char why[256];
    if (!qv_available(why, sizeof why)) {
        qc_msgs_addf(err, "cannot plot: %s", why);
        return QC_ERUNTIME;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        qc_msgs_addf(err, "%s: cannot create: %s", dir, strerror(errno));
        return QC_EINPUT;
    }
    int rc = plot_roofline(in, dir, err);
    if (!rc)
        ++*written;
    for (int i = 0; i < in->n_shapes && !rc; i++)
        if (!(rc = plot_lines(in, &in->shapes[i], "throughput", "Throughput against M",
                              "GFLOP/s (tuned configuration)", dir, err)))
            ++*written;
    if (!rc && in->tokens && !(rc = plot_lines(in, in->tokens, "tokens", "Decode bound of a pass through the model",
                                               "tokens/s (linear layers only)", dir, err)))
        ++*written;
    if (!rc && in->n_winners && !(rc = plot_winners(in, dir, err)))
        ++*written;
    if (!rc && in->n_residuals && !(rc = plot_residuals(in, dir, err)))
        ++*written;
    return rc;
}
