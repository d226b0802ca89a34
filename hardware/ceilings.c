/* Ceiling micro-benchmarks: streaming read bandwidth and fp32 FMA peak. */
#include <immintrin.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "hardware/ceilings.h"
#include "hardware/hardware.h"

static void summarize(const double *in, int n, qh_rate *out)
{
    memmove(out->rate, in, sizeof *in * (size_t)n);
    double sorted[QH_MAX_REPS];
    memcpy(sorted, in, sizeof *in * (size_t)n);
    qc_summary s = qc_summarize(sorted, n);
    out->best = s.max;
    out->median = s.median;
    out->cv = s.cv;
    out->reps = n;
}

void qh_rate_merge(qh_rate *a, const qh_rate *b)
{
    double all[QH_MAX_REPS];
    int n = 0;
    for (int i = 0; i < a->reps; i++)
        all[n++] = a->rate[i];
    for (int i = 0; i < b->reps && n < QH_MAX_REPS; i++)
        all[n++] = b->rate[i];
    summarize(all, n, a);
}

/* Repeat once() (which returns the work it did) at least 5 times and for min_time seconds. */
static void repeat(double (*once)(void *ctx, int threads), void *ctx, int threads, double min_time, qh_rate *out)
{
    double rates[QH_MAX_REPS];
    int reps = 0;
    double start = qc_now();
    while (reps < QH_MAX_REPS && (reps < 5 || qc_now() - start < min_time)) {
        double t0 = qc_now();
        double work = once(ctx, threads);
        rates[reps++] = work / (qc_now() - t0) / 1e9;
    }
    summarize(rates, reps, out);
}

__attribute__((target("avx2"))) static float read_block(const float *a, size_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i + 32 <= n; i += 32) {
        s0 = _mm256_add_ps(s0, _mm256_load_ps(a + i));
        s1 = _mm256_add_ps(s1, _mm256_load_ps(a + i + 8));
        s2 = _mm256_add_ps(s2, _mm256_load_ps(a + i + 16));
        s3 = _mm256_add_ps(s3, _mm256_load_ps(a + i + 24));
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
    float t[8];
    _mm256_storeu_ps(t, s);
    return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}

typedef struct stream {
    const float *a;
    size_t n;
    volatile float sink;
} stream;

static double stream_once(void *ctx, int threads)
{
    stream *st = ctx;
    float s = 0;
#pragma omp parallel num_threads(threads) reduction(+ : s)
    {
        size_t per = st->n / (size_t)threads, me = (size_t)omp_get_thread_num();
        s += read_block(st->a + me * per, per);
    }
    st->sink += s;
    return (double)st->n * 4; /* bytes read */
}

int qh_stream_read(size_t bytes, int threads, double min_time, qh_rate *out, qc_msgs *err)
{
    size_t n = bytes / 4 / (32 * (size_t)threads) * (32 * (size_t)threads);
    float *a = NULL;
    if (n == 0 || posix_memalign((void **)&a, 64, n * 4) != 0) {
        qc_msgs_addf(err, "stream read: cannot allocate %zu bytes", bytes);
        return QC_ERUNTIME;
    }
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++)
        a[i] = (float)(i % 1024) * 1e-3f + 1.0f; /* first touch by the reading threads; not zeros */
    stream st = {.a = a, .n = n};
    repeat(stream_once, &st, threads, min_time, out);
    free(a);
    return QC_OK;
}

/* 12 independent FMA chains: enough to cover the latency of two FMA pipes. */
__attribute__((target("avx2,fma"))) static float fma_chains(long iters)
{
    __m256 a0 = _mm256_set1_ps(0.1f), a1 = _mm256_set1_ps(0.2f), a2 = _mm256_set1_ps(0.3f),
           a3 = _mm256_set1_ps(0.4f), a4 = _mm256_set1_ps(0.5f), a5 = _mm256_set1_ps(0.6f),
           a6 = _mm256_set1_ps(0.7f), a7 = _mm256_set1_ps(0.8f), a8 = _mm256_set1_ps(0.9f),
           a9 = _mm256_set1_ps(1.0f), a10 = _mm256_set1_ps(1.1f), a11 = _mm256_set1_ps(1.2f);
    const __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (long i = 0; i < iters; i++) {
        a0 = _mm256_fmadd_ps(a0, b, c);
        a1 = _mm256_fmadd_ps(a1, b, c);
        a2 = _mm256_fmadd_ps(a2, b, c);
        a3 = _mm256_fmadd_ps(a3, b, c);
        a4 = _mm256_fmadd_ps(a4, b, c);
        a5 = _mm256_fmadd_ps(a5, b, c);
        a6 = _mm256_fmadd_ps(a6, b, c);
        a7 = _mm256_fmadd_ps(a7, b, c);
        a8 = _mm256_fmadd_ps(a8, b, c);
        a9 = _mm256_fmadd_ps(a9, b, c);
        a10 = _mm256_fmadd_ps(a10, b, c);
        a11 = _mm256_fmadd_ps(a11, b, c);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float t[8];
    _mm256_storeu_ps(t, s);
    return t[0] + t[7];
}

static double fma_once(void *ctx, int threads)
{
    const long iters = 2000000; /* ~10 ms per repetition at a few GHz */
    float s = 0;
#pragma omp parallel num_threads(threads) reduction(+ : s)
    s += fma_chains(iters);
    *(volatile float *)ctx += s;
    return (double)threads * iters * 12 * 8 * 2; /* FLOPs: 12 chains × 8 lanes × 2 */
}

int qh_fma_peak(int threads, double min_time, qh_rate *out, qc_msgs *err)
{
    qh_cpu c;
    qh_cpu_identify(&c);
    if (!qh_cpu_has(&c, QH_FMA) || !qh_cpu_has(&c, QH_AVX2)) {
        qc_msgs_addf(err, "fp32 FMA peak: this CPU has no AVX2 FMA");
        return QC_EINPUT;
    }
    volatile float sink = 0;
    repeat(fma_once, (void *)&sink, threads, min_time, out);
    return QC_OK;
}
