/* kernels/ internals: the blocked loops of the CPU kernels (kernels/cpu/) and the micro-kernel
 * interfaces they drive, BLIS-style. A loop walks N in blocks of nc channels (whole panels of
 * NR), K in blocks of kc, and M in register tiles of mr rows; a micro-kernel family is a struct
 * of function tables (kernels/cpu/ukr_generic.c, kernels/x86/) that declares the panel width
 * NR it consumes, its register-tile rows and the number format it computes in. */
#ifndef QBENCH_KERNELS_INTERNAL_H
#define QBENCH_KERNELS_INTERNAL_H

#include "kernels/qk.h"

/* fp8 activations: returns s = absmax/448 and sets *inv = 448/absmax (0 for an all-zero X). */
float qk_fp8_act_scale(const uint16_t *x, size_t count, int bf16, float *inv);

static inline int qk_groups(const qk_problem *p) { return p->k / qk_problem_group(p); }
static inline int qk_k4(const qk_problem *p) { return (p->k + 3) / 4; }
static inline size_t qk_align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Bytes of one panel's packed values at panel width nr. */
static inline size_t qk_panel_bytes(const qk_problem *p, int nr)
{
    switch (p->scheme) {
    case QK_FP16: return (size_t)p->k * nr * 2;
    case QK_BF16: return (size_t)(p->k + 1) / 2 * nr * 4;
    case QK_W4A16:
    case QK_W4A8: return (size_t)p->k * nr / 2;
    case QK_W8A8: return (size_t)qk_k4(p) * 4 * nr;
    default: return (size_t)p->k * nr; /* w8a16, fp8 */
    }
}

/* The int4 value of channel c (0..nr-1), k of a panel (the layout in qk.h). */
static inline int qk_int4_at(const uint8_t *pb, int nr, int c, int k)
{
    return (pb[((size_t)(k / 8) * nr + c) * 4 + k % 4] >> (k % 8 < 4 ? 0 : 4)) & 15;
}

static inline const uint8_t *qk_panel(const qk_weights *w, int panel)
{
    return (const uint8_t *)w->q + (size_t)panel * qk_panel_bytes(&w->p, w->nr);
}

/* Per-channel output factor of the float schemes (1 when none). */
static inline float qk_channel_scale(const qk_weights *w, int n)
{
    if (w->cscale)
        return w->cscale[n];
    return w->p.scheme == QK_FP8 ? w->tscale : 1.0f;
}

/* The blocking parameters every CPU loop reads, by name; where a kernel does not expose one
 * (the generic kernels expose only threads), the loop's fallback stands. */
typedef struct qk_blocking {
    int threads, mr, kc, nc, predequant;
} qk_blocking;
qk_blocking qk_blocking_of(const qk_kernel *k, const qk_config *cfg, const qk_blocking *fallback);

/* Shared by the loops and the micro-kernels. */
float qk_float_activations(const qk_problem *p, const uint16_t *x, int m, float *xf);
void qk_store_row(const qk_problem *p, void *y, int r, int n0, const float *v, int count);
/* Stores row r, channels n0.. of Y: v[c]·post[c] for the nr channels of a panel (fewer at
 * the edge of N), as fp16 or fp32. */
typedef void (*qk_store_fn)(const qk_problem *p, void *y, int r, int n0, int nr, const float *v, const float *post);
void qk_store_generic(const qk_problem *p, void *y, int r, int n0, int nr, const float *v, const float *post);
/* w8a8's epilogue for row r, channels n0 .. n0+count−1: (acc[c] − off·csum[n0+c]) · s_row ·
 * cscale[n0+c], stored as fp16 or fp32. */
typedef void (*qk_store_s32_fn)(const qk_problem *p, void *y, int r, int n0, int count, const int32_t *acc, int off,
                                const int32_t *csum, float s_row, const float *cscale);
void qk_store_s32_generic(const qk_problem *p, void *y, int r, int n0, int count, const int32_t *acc, int off,
                          const int32_t *csum, float s_row, const float *cscale);

/* ------------------------------------------------------------------ float schemes
 * fp16, w8a16, w4a16, fp8 (kernels/cpu/loop_float.c). Two paths, chosen by predequant:
 *  - small M: each panel is decoded in registers, MR rows of X at a time, over the whole K;
 *  - large M: a kc × nc block of weights is dequantized exactly to fp32 once, then an
 *    mr × NR fp32 micro-kernel runs over every row of X. */
enum { QK_MR_SMALL = 4, QK_MR_LARGE = 6 };

/* X as the small-M micro-kernels read it, and the K range [k0, k1) of this call (whole groups). */
typedef struct qk_xf {
    const float *x;     /* [M][K] fp32 (families without prepare()) */
    const void *extra;  /* what the family's prepare() made, `stride` bytes per row */
    size_t stride;
    int k, G;
    int k0, k1;
} qk_xf;

/* y[mr][NR] += the unscaled sums Σ_k x[r0+i][k] · v(n,k) over k in [k0, k1) for one panel, where v
 * is the weight before its per-channel or per-tensor scale (int4: (q − z)·s, with its group
 * scale and zero; fp8: the e4m3 value). The loop applies the channel scales. No micro-kernel
 * may take a large term off another large term (Σ x·(q + c) − c·Σ x): the test data sets with
 * one channel of W or X 1000× the rest catch it. */
typedef void (*qk_small_fn)(const qk_weights *w, int panel, const qk_xf *x, int r0, float *y);
/* B[kl][panel width] (row stride ldb) = the exact fp32 weights (scales applied) of the panel's
 * rows kb..kb+kl-1. */
typedef void (*qk_decode_fn)(const qk_weights *w, int panel, int kb, int kl, float *B, int ldb);
/* C[mr][NR] += A[mr][kl] · B[kl][NR], NR and MR the large family's width and rows; A packed
 * [kl][MR] (element (r, k) at A[k·MR + r]; rows from mr on are not read), B and C with row
 * strides ldb and ldc. */
typedef void (*qk_gemm_fn)(int kl, const float *A, const float *B, int ldb, float *C, int ldc);
/* C[mr][NR] (+)= A[mr][2·kp] · B[2·kp][NR] on bf16 k-pairs (vdpbf16ps), A X's k-pairs as 32-bit
 * words, row r's from A + r·lda (X itself when K is even), B [kp][NR] words: a bf16 panel as
 * packed, or the weights decoded to pairs (qk_pairs_fn); C row stride ldc, its old values added
 * unless `first` (the first K block). With `out` (the last K block), the sums go to Y instead of
 * C, times post[c] when post is set: its first `cols` columns, rows `ld` elements apart, as fp32,
 * bf16 or fp16. `fetch` (optional): memory to bring into the cache along the way, a 64-byte
 * line per k-pair, while the tile computes (the K block the loop reads next). */
typedef struct qk_dot_out {
    void *y;
    size_t ld;
    int cols, f32, bf16;
    const float *post; /* per column of the panel (NULL: 1) */
} qk_dot_out;
typedef void (*qk_dot_fn)(int kp, const uint32_t *A, size_t lda, const uint32_t *B, float *C, int ldc, int first,
                          const qk_dot_out *out, const char *fetch);
/* B[kpl][NR] = the k-pairs kp0..kp0+kpl-1 of a panel's weights before their channel or tensor
 * scale (int8 as the integer, fp8 as its e4m3 value), as bf16 words: exact (the even k in the
 * low half; past an odd K, zero). */
typedef void (*qk_pairs_fn)(const qk_weights *w, int panel, int kp0, int kpl, uint32_t *B);

typedef struct qk_float_small {
    int nr, mr_max;
    int up_to[QK_SCHEME_COUNT];                        /* the default path up to this M (by scheme) */
    int up_to_bf16[QK_SCHEME_COUNT];                   /* the same with bf16 activations (0: as up_to) */
    const char *format;                                /* the compute roof of this path */
    qk_small_fn run[QK_SCHEME_COUNT][QK_MR_SMALL + 1]; /* by scheme and rows; NULL: not offered */
    /* optional: bytes per row of X it prepares, and the preparation: fills extra (instead of
     * X as fp32) for the schemes it offers and returns the output factor (as
     * qk_float_activations) */
    size_t (*extra_per_row)(const qk_problem *p);
    float (*prepare)(const qk_problem *p, const uint16_t *x, int m, void *extra);
} qk_float_small;

typedef struct qk_float_large {
    int nr, mr; /* the micro-kernel's width (a multiple of the panel width) and rows */
    int kc, nc; /* the default blocking */
    const char *format;
    qk_decode_fn decode[QK_SCHEME_COUNT];
    qk_gemm_fn gemm[QK_MR_LARGE + 1];                  /* by rows 1..mr */
    qk_dot_fn dot[QK_MR_LARGE + 1];                    /* optional: on bf16 k-pairs, by rows */
    qk_pairs_fn pairs[QK_SCHEME_COUNT];                /* optional: weights to k-pairs for dot */
    /* optional: qk_float_activations, vectorized, bit for bit the same */
    float (*activations)(const qk_problem *p, const uint16_t *x, int m, float *xf);
    qk_store_fn store;                                 /* used by both paths */
} qk_float_large;

/* A float kernel's micro-kernels: the small-M family (NULL: only the large path), the large-M
 * family, and optionally a second large-M family that multiplies bf16 k-pairs (predequant = 2:
 * the weights decoded to pairs once per K block by dot->pairs), for activations exact in bf16:
 * bf16 X, or fp8's e4m3 X. */
typedef struct qk_ukr_float {
    const qk_float_small *small;
    const qk_float_large *large;
    const qk_float_large *dot;
} qk_ukr_float;
/* Does predequant = 2 (the bf16 k-pairs path) multiply p exactly on this family? */
int qk_float_dot_exact(const qk_ukr_float *u, const qk_problem *p);

void qk_run_float(const qk_run_args *a);
size_t qk_work_float(const qk_kernel *k, const qk_problem *p, const qk_config *cfg);
const char *qk_format_float(const qk_kernel *k, const qk_config *cfg);

/* ------------------------------------------------------------------ integer schemes
 * w8a8, w4a8 (kernels/cpu/loop_int.c): X is quantized per token inside the call; nc × kc
 * blocks, mr rows at a time. w8a8: C[mr][NR] int32 += A·B over kl k (a multiple of 4); w4a8:
 * C[mr][NR] fp32 += groups of A·(B − z)·s over kl k (whole groups). */
typedef void (*qk_ukr_w8a8)(int kl, const int8_t *A, int lda, const int8_t *B, int32_t *C, int ldc);
typedef void (*qk_ukr_w4a8)(int kl, const int8_t *A, int lda, const uint8_t *B, float *C, int ldc,
                            const qk_weights *w, size_t gat, int g, const int32_t *gsum, int G);
enum { QK_MR_INT = 8 };
typedef struct qk_ukr_int {
    int nr, mr_max;
    int kc, nc; /* the default blocking: K block (w4a8: whole groups near it), N block */
    const char *format;
    qk_ukr_w8a8 w8a8[QK_MR_INT + 1];
    qk_ukr_w4a8 w4a8[QK_MR_INT + 1];
    int w8a8_offset; /* w8a8 takes activations + 128 (u8) and subtracts 128·Σw per channel */
    qk_store_fn store;
    qk_store_s32_fn store_s32; /* w8a8's epilogue */
    /* optional: qk_quantize_row_int8, vectorized, bit for bit the same */
    float (*quantize_row)(const uint16_t *x, int k, int bf16, int8_t *q);
} qk_ukr_int;

/* X quantized per token: q [M][K4*4] (zero-padded), scale s [M], per-group sums gsum [M][G]
 * (all carved from work); rest points past them, 64-byte aligned. */
typedef struct qk_int_act {
    int8_t *q;
    float *s;
    int32_t *gsum;
    void *rest;
} qk_int_act;
qk_int_act qk_int_activations(const qk_problem *p, const uint16_t *x, int m, int threads, void *work,
                              float (*quantize_row)(const uint16_t *x, int k, int bf16, int8_t *q));

/* The fastest exact per-token quantizer this CPU runs (for kernels outside a family: oneDNN's). */
float (*qk_int8_quantizer(void))(const uint16_t *x, int k, int bf16, int8_t *q);

/* The family's K block for p: whole groups near its default for w4a8. */
int qk_int_default_kc(const qk_ukr_int *u, const qk_problem *p);
void qk_run_int(const qk_run_args *a);
size_t qk_work_int(const qk_kernel *k, const qk_problem *p, const qk_config *cfg);

/* ------------------------------------------------------------------ the micro-kernel families */
extern const qk_float_large qk_large_generic;
extern const qk_ukr_int qk_int_generic;
extern const qk_float_small qk_small_avx2;
extern const qk_float_large qk_large_avx2;
extern const qk_ukr_int qk_int_avx2;
extern const qk_float_small qk_small_avx512bf16;
extern const qk_float_small qk_small_avx512, qk_small_avx512_beside_dot, qk_small_avx512_beside_pairs;
extern const qk_float_large qk_large_avx512;
extern const qk_float_large qk_large_avx512bf16;
extern const qk_ukr_int qk_int_vnni, qk_int_vnni4;
void qk_store_avx2(const qk_problem *p, void *y, int r, int n0, int nr, const float *v, const float *post);
void qk_store_s32_avx2(const qk_problem *p, void *y, int r, int n0, int count, const int32_t *acc, int off,
                       const int32_t *csum, float s_row, const float *cscale);
/* AVX-512 (kernels/x86/avx512.c): the stores at any panel width, and the activation
 * conversions, each bit for bit what the portable definition gives */
void qk_store_avx512(const qk_problem *p, void *y, int r, int n0, int nr, const float *v, const float *post);
void qk_store_s32_avx512(const qk_problem *p, void *y, int r, int n0, int count, const int32_t *acc, int off,
                         const int32_t *csum, float s_row, const float *cscale);
/* X's 16-bit values are bf16 when `bf16`, else fp16 */
float qk_quantize_row_int8_avx512(const uint16_t *x, int k, int bf16, int8_t *q);
float qk_float_activations_avx512(const qk_problem *p, const uint16_t *x, int m, float *xf);
void qk_load_x_avx512(const uint16_t *x, size_t count, int bf16, float *xf);
/* fp8's activations: xf = e4m3(x · inv) as fp32 (qk_e4m3_to_float(qk_float_to_e4m3(...))) */
void qk_fp8_x_avx512(const uint16_t *x, size_t count, int bf16, float inv, float *xf);
float qk_absmax_x16_avx512(const uint16_t *x, size_t count, int bf16);
float qk_float_activations_avx2(const qk_problem *p, const uint16_t *x, int m, float *xf);

/* ------------------------------------------------------------------ oneDNN (kernels/onednn/) */
int qk_onednn_available(char *why, size_t len);
/* Reorders CPU-packed w8a8 or bf16 weights (the quantization is qbench's) into oneDNN's layout. */
int qk_onednn_pack(qk_weights *w, qc_msgs *err);
/* The plain N×K values back from oneDNN's layout (int8, or bf16 bits). */
int qk_onednn_unpack(const qk_weights *w, void *plain, qc_msgs *err);
void qk_onednn_w8a8(const qk_run_args *a);
void qk_onednn_bf16(const qk_run_args *a);
size_t qk_onednn_work(const qk_kernel *k, const qk_problem *p, const qk_config *cfg);

#endif
