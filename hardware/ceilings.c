/* Ceiling micro-benchmarks: streaming bandwidth by working set and peak rate per number
 * format. Each is a short loop; the repetition and the statistics are shared. */
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Repeat once() (which returns the bytes or operations it did) at least 5 times and for
 * min_time seconds; rates in G per second. */
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

/* ------------------------------------------------------------------ bandwidth */

/* 8 independent sums: enough that the loads, not the adds' latency, limit an L1-resident pass */
__attribute__((target("avx2"))) static float read_block(const float *a, size_t n)
{
    __m256 s[8];
    for (int j = 0; j < 8; j++)
        s[j] = _mm256_setzero_ps();
    for (size_t i = 0; i + 64 <= n; i += 64)
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) s[j] = _mm256_add_ps(s[j], _mm256_load_ps(a + i + 8 * j));
    for (int j = 1; j < 8; j++)
        s[0] = _mm256_add_ps(s[0], s[j]);
    float t[8];
    _mm256_storeu_ps(t, s[0]);
    return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}

__attribute__((target("avx2"))) static void scale_block(float *a, size_t n, float c)
{
    const __m256 k = _mm256_set1_ps(c);
    for (size_t i = 0; i + 32 <= n; i += 32) { /* n is a multiple of 64 */
        _mm256_store_ps(a + i, _mm256_mul_ps(_mm256_load_ps(a + i), k));
        _mm256_store_ps(a + i + 8, _mm256_mul_ps(_mm256_load_ps(a + i + 8), k));
        _mm256_store_ps(a + i + 16, _mm256_mul_ps(_mm256_load_ps(a + i + 16), k));
        _mm256_store_ps(a + i + 24, _mm256_mul_ps(_mm256_load_ps(a + i + 24), k));
    }
}

typedef struct stream {
    float *a;
    size_t n;     /* floats, all threads */
    int passes;   /* passes per repetition: small working sets need many to be timed */
    int write;
    volatile float sink;
} stream;

static double stream_once(void *ctx, int threads)
{
    stream *st = ctx;
    float s = 0;
#pragma omp parallel num_threads(threads) reduction(+ : s)
    {
        size_t per = st->n / (size_t)threads, me = (size_t)omp_get_thread_num();
        for (int p = 0; p < st->passes; p++) {
            if (st->write)
                scale_block(st->a + me * per, per, p & 1 ? 1.0001f : 0.9999f); /* stays near 1, never 0 */
            else
                s += read_block(st->a + me * per, per);
        }
    }
    st->sink += s;
    return (double)st->n * 4 * st->passes * (st->write ? 2 : 1);
}

/* n floats (a multiple of 64 per thread), first touched by the streaming threads; not zeros */
static float *stream_buffer(size_t n, int threads)
{
    float *a = n ? qc_alloc(n * 4) : NULL;
    if (!a)
        return NULL;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++)
        a[i] = (float)(i % 1024) * 1e-3f + 1.0f;
    return a;
}

static int stream_run(size_t bytes, int threads, double min_time, int write, qh_rate *out, qc_msgs *err)
{
    size_t n = bytes / 4 / (64 * (size_t)threads) * (64 * (size_t)threads);
    float *a = stream_buffer(n, threads);
    if (!a) {
        qc_msgs_addf(err, "stream: cannot allocate %zu bytes", bytes);
        return QC_ERUNTIME;
    }
    size_t target = (size_t)8 << 20; /* ≥ 8 MB moved per repetition */
    stream st = {.a = a, .n = n, .passes = n * 4 >= target ? 1 : (int)(target / (n * 4)), .write = write};
    stream_once(&st, threads); /* warm: caches filled, pages touched */
    repeat(stream_once, &st, threads, min_time, out);
    free(a);
    return QC_OK;
}

int qh_stream_read(size_t bytes, int threads, double min_time, qh_rate *out, qc_msgs *err)
{
    return stream_run(bytes, threads, min_time, 0, out, err);
}

int qh_stream_rw(size_t bytes, int threads, double min_time, qh_rate *out, qc_msgs *err)
{
    return stream_run(bytes, threads, min_time, 1, out, err);
}

const char *qh_level_name(qh_level l)
{
    static const char *const names[QH_LEVEL_COUNT] = {"L1", "L2", "L3", "DRAM"};
    return (unsigned)l < QH_LEVEL_COUNT ? names[l] : "?";
}

/* The capacity one thread can use at a level: a private cache whole, a shared one divided
 * among the threads that share it (and stream at once). */
static double per_thread_capacity(const qh_host *h, int level, int threads)
{
    const qh_cache *c = qh_host_cache(h, level);
    if (!c)
        return 0;
    int sharing = c->threads_sharing < threads ? c->threads_sharing : threads;
    return (double)c->size / (sharing > 0 ? sharing : 1);
}

enum { DRAM_SLICES = 7 };
#define DRAM_SLICE_S 0.3

int qh_bandwidth_levels(const qh_host *h, int threads, int quick, qh_level_bw out[QH_LEVEL_COUNT],
                        qh_bw_point *points, int *n_points, qc_msgs *err)
{
    memset(out, 0, sizeof(qh_level_bw) * QH_LEVEL_COUNT);
    double cap[4] = {0}; /* per-thread capacity of L1, L2, L3 */
    int deepest = 0;
    for (int l = 1; l <= 3; l++)
        if ((cap[l] = per_thread_capacity(h, l, threads)) > 0)
            deepest = l;
    if (!deepest) {
        qc_msgs_addf(err, "bandwidth: hwloc reports no data caches, so levels cannot be named");
        return QC_ERUNTIME;
    }
    /* per-thread working sets: doubling from 4 KiB to 8× the last level (all threads). DRAM needs
     * that much: AMD's L3 is a victim cache that keeps part of a working set a few times its size. */
    double llc_total = qh_host_llc_bytes(h);
    double top = 8 * llc_total / threads;
    qh_bw_point local[64];
    qh_bw_point *pts = points ? points : local;
    int n = 0;
    double min_time = quick ? 0.02 : 0.1;
    double sizes[64];
    int ns = 0;
    for (double ws = 4096; ws < top && ns < 63; ws *= quick ? 4 : 2)
        sizes[ns++] = ws;
    sizes[ns++] = top; /* always a point well past the last level: DRAM */
    for (int i = 0; i < ns; i++) {
        qh_bw_point *pt = &pts[n];
        pt->bytes = (size_t)sizes[i] * (size_t)threads;
        int rc = qh_stream_read(pt->bytes, threads, min_time, &pt->read, err);
        if (!rc)
            rc = qh_stream_rw(pt->bytes, threads, min_time, &pt->rw, err);
        /* DRAM: a shared machine's bandwidth flips for a second or two at a time (~30 against
         * ~55 GB/s on a VM here), so the point past the last level is measured in slices
         * DRAM_SLICE_S apart, and its median is over all of them */
        for (int sl = 1; !rc && i == ns - 1 && sl < DRAM_SLICES; sl++) {
            qh_rate r, w;
            usleep((useconds_t)(DRAM_SLICE_S * 1e6));
            if (!(rc = qh_stream_read(pt->bytes, threads, min_time, &r, err)) &&
                !(rc = qh_stream_rw(pt->bytes, threads, min_time, &w, err))) {
                qh_rate_merge(&pt->read, &r);
                qh_rate_merge(&pt->rw, &w);
            }
        }
        if (rc)
            return rc;
        n++;
    }
    if (n_points)
        *n_points = n;
    /* name the plateaus: a point belongs to level l when it fits in l with room to spare and
     * overflows the level below it clearly */
    for (int l = 0; l < QH_LEVEL_COUNT; l++) {
        double lo = 0, hi = 0;
        if (l == QH_DRAM) {
            lo = 4 * llc_total / threads;
            hi = 1e30;
        } else if (l + 1 <= deepest) {
            lo = l == 0 ? 0 : 2 * cap[l];
            hi = cap[l + 1] / 2;
        } else {
            continue;
        }
        double r[64], rw[64], rc[64], wc[64];
        int k = 0;
        size_t ws = 0;
        for (int i = 0; i < n; i++) {
            double per = (double)pts[i].bytes / threads;
            if (per > lo && per <= hi) {
                r[k] = pts[i].read.median;
                rw[k] = pts[i].rw.median;
                rc[k] = pts[i].read.cv;
                wc[k] = pts[i].rw.cv;
                k++;
                if (!ws)
                    ws = pts[i].bytes;
            }
        }
        if (!k)
            continue;
        out[l].present = 1;
        out[l].working_set = ws;
        out[l].read_gbs = qc_summarize(r, k).median;
        out[l].rw_gbs = qc_summarize(rw, k).median;
        out[l].read_cv = qc_summarize(rc, k).median;
        out[l].rw_cv = qc_summarize(wc, k).median;
    }
    return QC_OK;
}

/* ------------------------------------------------------------------ peak per format */

const char *qh_format_name(qh_format f)
{
    static const char *const names[QH_FORMAT_COUNT] = {
        [QH_FP32_FMA] = "fp32_fma", [QH_FP16_FMA] = "fp16_fma", [QH_INT8_DOT] = "int8_dot",
        [QH_INT4_DOT] = "int4_dot", [QH_FP8_FMA] = "fp8_fma",   [QH_BF16_DOT] = "bf16_dot",
    };
    return (unsigned)f < QH_FORMAT_COUNT ? names[f] : "?";
}

enum { ITERS = 200000, CHAINS = 12 };

/* Each micro-kernel runs CHAINS independent dependency chains for ITERS steps and returns
 * the operations one thread did (a multiply-add counts 2). The chains' inputs come from
 * registers, so nothing but the arithmetic is measured. */

#define T_AVX2 __attribute__((target("avx2,fma,f16c")))
#define T_512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx512bf16,avx2,fma,f16c")))

T_AVX2 static double k_fp32(volatile float *sink)
{
    __m256 a[CHAINS];
    for (int j = 0; j < CHAINS; j++)
        a[j] = _mm256_set1_ps(0.1f * (float)(j + 1));
    const __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (long i = 0; i < ITERS; i++)
        _Pragma("GCC unroll 12") for (int j = 0; j < CHAINS; j++) a[j] = _mm256_fmadd_ps(a[j], b, c);
    for (int j = 1; j < CHAINS; j++)
        a[0] = _mm256_add_ps(a[0], a[j]);
    *sink += a[0][0];
    return (double)ITERS * CHAINS * 8 * 2;
}

/* A compiler barrier: the value is treated as changed, so nothing computed from it is shared
 * between chains or hoisted out of the loop, and no instruction is emitted. */
#define FRESH(v) __asm__ volatile("" : "+x"(v))

enum { CONV_CHAINS = 8 }; /* 8 accumulators + 8 operands fill the 16 AVX2 registers */

/* fp16: each chain converts its own 8 halves (F16C) and FMAs them in */
T_AVX2 static double k_fp16(volatile float *sink)
{
    __m256 a[CONV_CHAINS];
    __m128i h[CONV_CHAINS];
    for (int j = 0; j < CONV_CHAINS; j++) {
        a[j] = _mm256_set1_ps(0.1f * (float)(j + 1));
        h[j] = _mm_set1_epi16((short)(0x3bf0 + j)); /* ≈ 0.99 */
    }
    for (long i = 0; i < ITERS; i++)
        _Pragma("GCC unroll 8") for (int j = 0; j < CONV_CHAINS; j++)
        {
            FRESH(h[j]);
            a[j] = _mm256_fmadd_ps(a[j], _mm256_cvtph_ps(h[j]), a[j]);
        }
    for (int j = 1; j < CONV_CHAINS; j++)
        a[0] = _mm256_add_ps(a[0], a[j]);
    *sink += a[0][0];
    return (double)ITERS * CONV_CHAINS * 8 * 2;
}

/* fp8: each chain turns its own 8 e4m3 bytes into fp16 bits (shifts and masks), converts,
 * and FMAs them in; the ×256 that completes the conversion folds into the output scale */
T_AVX2 static double k_fp8(volatile float *sink)
{
    __m256 a[CONV_CHAINS];
    __m128i b[CONV_CHAINS];
    for (int j = 0; j < CONV_CHAINS; j++) {
        a[j] = _mm256_set1_ps(0.1f * (float)(j + 1));
        b[j] = _mm_set1_epi16((short)(0x30 + j));
    }
    const __m128i sgn = _mm_set1_epi16((short)0x8000), mag = _mm_set1_epi16(0x3f80);
    for (long i = 0; i < ITERS; i++)
        _Pragma("GCC unroll 8") for (int j = 0; j < CONV_CHAINS; j++)
        {
            FRESH(b[j]);
            __m128i h = _mm_or_si128(_mm_and_si128(_mm_slli_epi16(b[j], 8), sgn), _mm_and_si128(_mm_slli_epi16(b[j], 7), mag));
            a[j] = _mm256_fmadd_ps(a[j], _mm256_cvtph_ps(h), a[j]);
        }
    for (int j = 1; j < CONV_CHAINS; j++)
        a[0] = _mm256_add_ps(a[0], a[j]);
    *sink += a[0][0];
    return (double)ITERS * CONV_CHAINS * 8 * 2;
}

/* int8 (AVX2): |w|·sign(x,w) through vpmaddubsw, pairs through vpmaddwd, 32 MACs per chain step */
T_AVX2 static double k_int8_avx2(volatile float *sink)
{
    __m256i acc[CHAINS];
    for (int j = 0; j < CHAINS; j++)
        acc[j] = _mm256_set1_epi32(j);
    __m256i w = _mm256_set1_epi8(-3), x = _mm256_set1_epi8(5);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i aw = _mm256_abs_epi8(w);
    for (long i = 0; i < ITERS; i++) {
        x = _mm256_xor_si256(x, _mm256_set1_epi8(1));
        __m256i sx = _mm256_sign_epi8(x, w);
        _Pragma("GCC unroll 12") for (int j = 0; j < CHAINS; j++) acc[j] =
            _mm256_add_epi32(acc[j], _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sx), ones));
    }
    for (int j = 1; j < CHAINS; j++)
        acc[0] = _mm256_add_epi32(acc[0], acc[j]);
    *sink += (float)_mm256_extract_epi32(acc[0], 0);
    return (double)ITERS * CHAINS * 32 * 2;
}

/* int4 (AVX2): each chain unpacks its own 64 nibbles, then the int8 dot: 64 MACs per step */
T_AVX2 static double k_int4_avx2(volatile float *sink)
{
    __m256i acc[CONV_CHAINS / 2], b[CONV_CHAINS / 2];
    for (int j = 0; j < CONV_CHAINS / 2; j++) {
        acc[j] = _mm256_set1_epi32(j);
        b[j] = _mm256_set1_epi8((char)(0x5a + j));
    }
    const __m256i ones = _mm256_set1_epi16(1), mask = _mm256_set1_epi8(0x0f), x = _mm256_set1_epi8(3);
    for (long i = 0; i < ITERS; i++)
        _Pragma("GCC unroll 4") for (int j = 0; j < CONV_CHAINS / 2; j++)
        {
            FRESH(b[j]);
            __m256i lo = _mm256_and_si256(b[j], mask), hi = _mm256_and_si256(_mm256_srli_epi16(b[j], 4), mask);
            acc[j] = _mm256_add_epi32(
                acc[j], _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(lo, x), _mm256_maddubs_epi16(hi, x)), ones));
        }
    for (int j = 1; j < CONV_CHAINS / 2; j++)
        acc[0] = _mm256_add_epi32(acc[0], acc[j]);
    *sink += (float)_mm256_extract_epi32(acc[0], 0);
    return (double)ITERS * (CONV_CHAINS / 2) * 64 * 2;
}

/* The lanes' sum, wrapping (unsigned): it only keeps the work alive, and may overflow. */
T_512 static uint32_t sum_lanes(__m512i v)
{
    uint32_t lane[16], s = 0;
    _mm512_storeu_si512(lane, v);
    for (int i = 0; i < 16; i++)
        s += lane[i];
    return s;
}

/* int8 (AVX-512 VNNI): vpdpbusd, 64 MACs per chain step */
T_512 static double k_int8_vnni(volatile float *sink)
{
    __m512i acc[CHAINS];
    for (int j = 0; j < CHAINS; j++)
        acc[j] = _mm512_set1_epi32(j);
    __m512i w = _mm512_set1_epi8(-3), x = _mm512_set1_epi8(5);
    for (long i = 0; i < ITERS; i++) {
        x = _mm512_xor_si512(x, _mm512_set1_epi8(1));
        _Pragma("GCC unroll 12") for (int j = 0; j < CHAINS; j++) acc[j] = _mm512_dpbusd_epi32(acc[j], x, w);
    }
    for (int j = 1; j < CHAINS; j++)
        acc[0] = _mm512_add_epi32(acc[0], acc[j]);
    *sink += (float)sum_lanes(acc[0]);
    return (double)ITERS * CHAINS * 64 * 2;
}

/* int4 (AVX-512 VNNI): each chain unpacks its own 128 nibbles, then two vpdpbusd */
T_512 static double k_int4_vnni(volatile float *sink)
{
    __m512i acc[CHAINS], b[CHAINS];
    for (int j = 0; j < CHAINS; j++) {
        acc[j] = _mm512_set1_epi32(j);
        b[j] = _mm512_set1_epi8((char)(0x5a + j));
    }
    const __m512i mask = _mm512_set1_epi8(0x0f), x = _mm512_set1_epi8(3);
    for (long i = 0; i < ITERS; i++)
        _Pragma("GCC unroll 12") for (int j = 0; j < CHAINS; j++)
        {
            __asm__ volatile("" : "+v"(b[j]));
            __m512i lo = _mm512_and_si512(b[j], mask), hi = _mm512_and_si512(_mm512_srli_epi16(b[j], 4), mask);
            acc[j] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(acc[j], lo, x), hi, x);
        }
    for (int j = 1; j < CHAINS; j++)
        acc[0] = _mm512_add_epi32(acc[0], acc[j]);
    *sink += (float)sum_lanes(acc[0]);
    return (double)ITERS * CHAINS * 128 * 2;
}

/* bf16 (AVX-512 BF16): vdpbf16ps, 32 MACs per chain step */
T_512 static double k_bf16(volatile float *sink)
{
    __m512 acc[CHAINS];
    for (int j = 0; j < CHAINS; j++)
        acc[j] = _mm512_set1_ps(0.1f * (float)(j + 1));
    __m512i a = _mm512_set1_epi32(0x3f803f80), b = _mm512_set1_epi32(0x3f7f3f7f);
    for (long i = 0; i < ITERS; i++) {
        b = _mm512_xor_si512(b, _mm512_set1_epi32(0x00010001));
        _Pragma("GCC unroll 12") for (int j = 0; j < CHAINS; j++) acc[j] =
            _mm512_dpbf16_ps(acc[j], (__m512bh)a, (__m512bh)b);
    }
    for (int j = 1; j < CHAINS; j++)
        acc[0] = _mm512_add_ps(acc[0], acc[j]);
    *sink += _mm512_reduce_add_ps(acc[0]);
    return (double)ITERS * CHAINS * 32 * 2;
}

typedef struct peak {
    double (*kernel)(volatile float *);
    volatile float sink;
} peak;

static double peak_once(void *ctx, int threads)
{
    peak *pk = ctx;
    double ops = 0;
#pragma omp parallel num_threads(threads) reduction(+ : ops)
    {
        volatile float s = 0;
        ops += pk->kernel(&s);
#pragma omp atomic
        pk->sink += s;
    }
    return ops;
}

int qh_peak(qh_format f, int threads, double min_time, qh_rate *out, const char **isa, qc_msgs *err)
{
    qh_cpu c;
    qh_cpu_identify(&c);
    const int avx2 = qh_cpu_has(&c, QH_AVX2) && qh_cpu_has(&c, QH_FMA) && qh_cpu_has(&c, QH_F16C);
    const int avx512 = qh_cpu_has(&c, QH_AVX512F) && qh_cpu_has(&c, QH_AVX512BW) && qh_cpu_has(&c, QH_AVX512VL);
    const int vnni = avx512 && qh_cpu_has(&c, QH_AVX512_VNNI), bf16 = avx512 && qh_cpu_has(&c, QH_AVX512_BF16);
    peak pk = {0};
    *isa = "avx2";
    switch (f) {
    case QH_FP32_FMA: pk.kernel = k_fp32; break;
    case QH_FP16_FMA: pk.kernel = k_fp16; break;
    case QH_FP8_FMA: pk.kernel = k_fp8; break;
    case QH_INT8_DOT: pk.kernel = vnni ? k_int8_vnni : k_int8_avx2; *isa = vnni ? "avx512vnni" : "avx2"; break;
    case QH_INT4_DOT: pk.kernel = vnni ? k_int4_vnni : k_int4_avx2; *isa = vnni ? "avx512vnni" : "avx2"; break;
    case QH_BF16_DOT: pk.kernel = bf16 ? k_bf16 : NULL; *isa = "avx512bf16"; break;
    default: break;
    }
    if (!avx2 || !pk.kernel) {
        qc_msgs_addf(err, "peak %s: this CPU has no %s path", qh_format_name(f), *isa);
        return QC_EINPUT;
    }
    repeat(peak_once, &pk, threads, min_time, out);
    return QC_OK;
}

/* ------------------------------------------------------------------ the phase now */

struct qh_sentinel {
    stream st;
    peak pk;
    int threads;
    double gops[QH_PHASE_HISTORY], gbs[QH_PHASE_HISTORY]; /* the latest reads */
    int n, next;
    qh_phase_read last;
};

int qh_phase_usual(double gops, double usual_gops, double gbs, double usual_gbs)
{
    return gops >= QH_PHASE_CORES * usual_gops && gbs >= usual_gbs / QH_PHASE_DRAM && gbs <= usual_gbs * QH_PHASE_DRAM;
}

static double best_rate(double (*once)(void *ctx, int threads), void *ctx, int threads, int tries)
{
    double best = 0;
    for (int i = 0; i < tries; i++) {
        double t0 = qc_now(), work = once(ctx, threads), r = work / (qc_now() - t0) / 1e9;
        best = r > best ? r : best;
    }
    return best;
}

/* The value below which a fraction q of the latest reads lie. */
static double quantile(const double *v, int n, double q)
{
    double sorted[QH_PHASE_HISTORY];
    memcpy(sorted, v, sizeof *sorted * (size_t)n);
    qc_summarize(sorted, n);
    return sorted[(int)(q * (n - 1) + 0.5)];
}

int qh_sentinel_usual(qh_sentinel *s)
{
    return qh_sentinel_add(s, best_rate(peak_once, &s->pk, s->threads, 3), best_rate(stream_once, &s->st, s->threads, 2));
}

int qh_sentinel_add(qh_sentinel *s, double gops, double gbs)
{
    s->gops[s->next] = gops;
    s->gbs[s->next] = gbs;
    s->next = (s->next + 1) % QH_PHASE_HISTORY;
    s->n += s->n < QH_PHASE_HISTORY;
    /* the cores' usual rate: the upper quartile of the latest bursts (a slow phase stays below
     * it; a machine busy for good becomes the usual one) */
    s->last = (qh_phase_read){gops, quantile(s->gops, s->n, 0.75), gbs, quantile(s->gbs, s->n, 0.5)};
    return qh_phase_usual(gops, s->last.usual_gops, gbs, s->last.usual_gbs);
}

qh_phase_read qh_sentinel_last(const qh_sentinel *s) { return s->last; }

qh_sentinel *qh_sentinel_create(double llc_bytes, int threads)
{
    const size_t bytes = (size_t)fmax(2 * llc_bytes, 64.0 * 1024 * 1024);
    qh_cpu c;
    qh_cpu_identify(&c);
    if (threads < 1 || !(qh_cpu_has(&c, QH_AVX2) && qh_cpu_has(&c, QH_FMA)))
        return NULL;
    size_t n = bytes / 4 / (64 * (size_t)threads) * (64 * (size_t)threads);
    float *a = stream_buffer(n, threads);
    if (!a)
        return NULL;
    qh_sentinel *s = qc_xcalloc(1, sizeof *s);
    s->st = (stream){.a = a, .n = n, .passes = 1};
    s->pk.kernel = k_fp32;
    s->threads = threads;
    for (int i = 0; i < 5; i++) {
        qh_sentinel_usual(s);
        usleep(20000);
    }
    return s;
}

double qh_sentinel_wait(qh_sentinel *s, double max_s)
{
    const double t0 = qc_now();
    int waited = 0;
    while (!qh_sentinel_usual(s)) {
        if (qc_now() - t0 >= max_s)
            return -1;
        usleep(100000);
        waited = 1;
    }
    return waited ? qc_now() - t0 : 0;
}

void qh_sentinel_free(qh_sentinel *s)
{
    if (!s)
        return;
    free(s->st.a);
    free(s);
}
