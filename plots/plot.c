/* gnuplot templates and the code that feeds them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kernels/qk.h"
#include "plots/plot.h"

/* one colour per scheme, the same in every picture */
static const char *const colour[QK_SCHEME_COUNT] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"};

int qv_available(char *why, size_t len)
{
    int rc = system("command -v gnuplot >/dev/null 2>&1");
    if (rc != 0) {
        snprintf(why, len, "gnuplot is not installed (apt-get install gnuplot-nox)");
        return 0;
    }
    return 1;
}

static FILE *open_in(const char *dir, const char *name, char *path, size_t len, qc_msgs *err)
{
    snprintf(path, len, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        qc_msgs_addf(err, "%s: %s", path, strerror(errno));
    return f;
}

static int run_gnuplot(const char *script, qc_msgs *err)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "gnuplot '%s' 2>&1", script);
    FILE *p = popen(cmd, "r");
    char out[2048] = "";
    size_t got = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[got] = '\0';
    int rc = p ? pclose(p) : -1;
    if (rc != 0 || strstr(out, "error")) {
        qc_msgs_addf(err, "gnuplot failed on %s: %s", script, out[0] ? out : "(no output)");
        return QC_ERUNTIME;
    }
    return QC_OK;
}

/* Each picture is one script drawing it twice: PNG, then SVG. */
static void terminals(FILE *g, const char *dir, const char *base, const char *body)
{
    /* noenhanced: names like fp32_fma are text, not subscripts */
    fprintf(g, "set terminal pngcairo size 1100,700 noenhanced font 'DejaVu Sans,11'\nset output '%s/%s.png'\n%s", dir,
            base, body);
    fprintf(g, "set terminal svg size 1100,700 dynamic noenhanced font 'DejaVu Sans,11'\nset output '%s/%s.svg'\nreplot\n",
            dir, base);
}

static int has_scheme(const qv_input *in, int s, int n, int k)
{
    for (int i = 0; i < in->n_points; i++)
        if (in->points[i].scheme == s && in->points[i].gflops > 0 && (!n || (in->points[i].n == n && in->points[i].k == k)))
            return 1;
    return 0;
}

/* ", " between plot items: the list is built item by item, some left out */
static int sep(char *body, size_t len, int o, int *first)
{
    int w = *first ? 0 : snprintf(body + o, len - (size_t)o, ", ");
    *first = 0;
    return w;
}

static int plot_roofline(const qv_input *in, const char *dir, qc_msgs *err)
{
    char dat[4096], gp[4096];
    FILE *d = open_in(dir, "roofline.dat", dat, sizeof dat, err);
    if (!d)
        return QC_ERUNTIME;
    for (int s = 0; s < QK_SCHEME_COUNT; s++) {
        fprintf(d, "# %s\n", qk_scheme_name((qk_scheme)s));
        int any = 0;
        for (int i = 0; i < in->n_points; i++)
            if (in->points[i].scheme == s && in->points[i].gflops > 0) {
                fprintf(d, "%.6g %.6g\n", in->points[i].intensity, in->points[i].gflops);
                any = 1;
            }
        if (!any)
            fprintf(d, "nan nan\n");
        fprintf(d, "\n\n");
    }
    fclose(d);
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
    FILE *g = open_in(dir, "roofline.gp", gp, sizeof gp, err);
    if (!g)
        return QC_ERUNTIME;
    char body[16384];
    int o = snprintf(body, sizeof body,
                     "set title 'Roofline: %s (measured ceilings, every run)'\nset logscale xy\n"
                     "set xlabel 'arithmetic intensity (FLOP/byte)'\nset ylabel 'GFLOP/s'\n"
                     "set xrange [%g:%g]\nset yrange [%g:%g]\nset key outside right top\nset grid\nset samples 400\n"
                     "roof(bw, x) = bw * x < %g ? bw * x : %g\n",
                     in->device, xmin / 4, xmax * 4, ymin / 3, ymax * 3, ymax, ymax);
    o += snprintf(body + o, sizeof body - (size_t)o, "plot ");
    int first = 1;
    for (int i = 0; i < in->n_ceilings; i++) { /* memory roofs meet the highest compute roof */
        const qv_ceiling *c = &in->ceilings[i];
        o += sep(body, sizeof body, o, &first);
        if (c->gbs > 0)
            o += snprintf(body + o, sizeof body - (size_t)o, "roof(%g, x) w l lw 1.5 dt 2 lc rgb '#555555' t '%s'",
                          c->gbs, c->label);
        else
            o += snprintf(body + o, sizeof body - (size_t)o, "%g w l lw 1.5 dt 3 lc rgb '#999999' t '%s'", c->gops,
                          c->label);
    }
    for (int s = 0; s < QK_SCHEME_COUNT; s++)
        if (has_scheme(in, s, 0, 0)) {
            o += sep(body, sizeof body, o, &first);
            o += snprintf(body + o, sizeof body - (size_t)o, "'%s' index %d w p pt 7 ps 1.2 lc rgb '%s' t '%s'", dat, s,
                          colour[s], qk_scheme_name((qk_scheme)s));
        }
    o += snprintf(body + o, sizeof body - (size_t)o, "\n");
    terminals(g, dir, "roofline", body);
    fclose(g);
    return run_gnuplot(gp, err);
}

static int plot_throughput(const qv_input *in, const char *dir, int n, int k, qc_msgs *err)
{
    char name[64], dat[4096], gp[4096];
    snprintf(name, sizeof name, "throughput-%dx%d.dat", n, k);
    FILE *d = open_in(dir, name, dat, sizeof dat, err);
    if (!d)
        return QC_ERUNTIME;
    for (int s = 0; s < QK_SCHEME_COUNT; s++) {
        fprintf(d, "# %s: M, best GFLOP/s\n", qk_scheme_name((qk_scheme)s));
        /* the best configuration per M, in ascending M */
        int last = 0, any = 0;
        for (;;) {
            int m = 0;
            double best = 0;
            for (int i = 0; i < in->n_points; i++) {
                const qv_point *p = &in->points[i];
                if (p->scheme == s && p->n == n && p->k == k && p->m > last && (!m || p->m < m))
                    m = p->m;
            }
            if (!m)
                break;
            for (int i = 0; i < in->n_points; i++) {
                const qv_point *p = &in->points[i];
                if (p->scheme == s && p->n == n && p->k == k && p->m == m && p->gflops > best)
                    best = p->gflops;
            }
            fprintf(d, "%d %.6g\n", m, best);
            any = 1;
            last = m;
        }
        if (!any)
            fprintf(d, "nan nan\n");
        fprintf(d, "\n\n");
    }
    fclose(d);
    snprintf(name, sizeof name, "throughput-%dx%d.gp", n, k);
    FILE *g = open_in(dir, name, gp, sizeof gp, err);
    if (!g)
        return QC_ERUNTIME;
    char body[8192];
    int o = snprintf(body, sizeof body,
                     "set title 'Throughput against M: N=%d K=%d on %s (where the schemes cross)'\nset logscale xy\n"
                     "set logscale x 2\nset xlabel 'M (tokens)'\nset ylabel 'GFLOP/s (best configuration)'\n"
                     "set key outside right top\nset grid\nplot ",
                     n, k, in->device);
    int first = 1;
    for (int s = 0; s < QK_SCHEME_COUNT; s++)
        if (has_scheme(in, s, n, k)) {
            o += sep(body, sizeof body, o, &first);
            o += snprintf(body + o, sizeof body - (size_t)o, "'%s' index %d w lp pt 7 lw 2 lc rgb '%s' t '%s'", dat, s,
                          colour[s], qk_scheme_name((qk_scheme)s));
        }
    snprintf(body + o, sizeof body - (size_t)o, "\n");
    snprintf(name, sizeof name, "throughput-%dx%d", n, k);
    terminals(g, dir, name, body);
    fclose(g);
    return run_gnuplot(gp, err);
}

static int plot_winners(const qv_input *in, const char *dir, qc_msgs *err)
{
    /* rows: shapes; columns: M buckets; each cell coloured by the winning scheme */
    int shapes[64][2], ns = 0, ms[64], nm = 0;
    for (int i = 0; i < in->n_winners; i++) {
        const qv_cell *c = &in->winners[i];
        int s = 0, m = 0;
        while (s < ns && !(shapes[s][0] == c->n && shapes[s][1] == c->k))
            s++;
        if (s == ns && ns < 64) {
            shapes[ns][0] = c->n;
            shapes[ns][1] = c->k;
            ns++;
        }
        while (m < nm && ms[m] != c->m_hi)
            m++;
        if (m == nm && nm < 64)
            ms[nm++] = c->m_hi;
    }
    for (int i = 1; i < nm; i++)
        for (int j = i; j > 0 && ms[j] < ms[j - 1]; j--) {
            int t = ms[j];
            ms[j] = ms[j - 1];
            ms[j - 1] = t;
        }
    char dat[4096], gp[4096];
    FILE *d = open_in(dir, "winners.dat", dat, sizeof dat, err);
    if (!d)
        return QC_ERUNTIME;
    fprintf(d, "# column (M bucket), row (shape), winning scheme\n");
    for (int s = 0; s < ns; s++)
        for (int m = 0; m < nm; m++) {
            int w = -1;
            for (int i = 0; i < in->n_winners; i++)
                if (in->winners[i].n == shapes[s][0] && in->winners[i].k == shapes[s][1] && in->winners[i].m_hi == ms[m])
                    w = in->winners[i].scheme;
            if (w >= 0)
                fprintf(d, "%d %d %d \"%s\"\n", m, s, w, qk_scheme_name((qk_scheme)w));
        }
    fclose(d);
    FILE *g = open_in(dir, "winners.gp", gp, sizeof gp, err);
    if (!g)
        return QC_ERUNTIME;
    char body[16384];
    int o = snprintf(body, sizeof body,
                     "set title 'Fastest scheme per M bucket and shape on %s'\nset xlabel 'M (bucket upper bound)'\n"
                     "set ylabel 'layer shape (N x K)'\nset xrange [-0.5:%d.5]\nset yrange [-0.5:%d.5]\n"
                     "set cbrange [-0.5:%d.5]\nunset colorbox\nset key off\nset palette defined (",
                     in->device, nm - 1, ns - 1, QK_SCHEME_COUNT - 1);
    for (int s = 0; s < QK_SCHEME_COUNT; s++)
        o += snprintf(body + o, sizeof body - (size_t)o, "%d '%s'%s", s, colour[s], s + 1 < QK_SCHEME_COUNT ? ", " : ")\n");
    o += snprintf(body + o, sizeof body - (size_t)o, "set xtics (");
    for (int m = 0; m < nm; m++)
        o += snprintf(body + o, sizeof body - (size_t)o, "'%d' %d%s", ms[m], m, m + 1 < nm ? ", " : ")\n");
    o += snprintf(body + o, sizeof body - (size_t)o, "set ytics (");
    for (int s = 0; s < ns; s++)
        o += snprintf(body + o, sizeof body - (size_t)o, "'%dx%d' %d%s", shapes[s][0], shapes[s][1], s,
                      s + 1 < ns ? ", " : ")\n");
    snprintf(body + o, sizeof body - (size_t)o,
             "plot '%s' using 1:2:3 with image, '' using 1:2:4 with labels font ',10' tc rgb 'white'\n", dat);
    terminals(g, dir, "winners", body);
    fclose(g);
    return run_gnuplot(gp, err);
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
    int shapes[64][2], ns = 0;
    for (int i = 0; i < in->n_points && !rc; i++) {
        int s = 0;
        while (s < ns && !(shapes[s][0] == in->points[i].n && shapes[s][1] == in->points[i].k))
            s++;
        if (s == ns && ns < 64) {
            shapes[ns][0] = in->points[i].n;
            shapes[ns][1] = in->points[i].k;
            ns++;
            if (!(rc = plot_throughput(in, dir, shapes[s][0], shapes[s][1], err)))
                ++*written;
        }
    }
    if (!rc && in->n_winners) {
        if (!(rc = plot_winners(in, dir, err)))
            ++*written;
    }
    return rc;
}
