/* fp16, w8a8 (int8 × int8 → int32) and fp8 (e4m3) GEMMs through cuBLASLt. The configuration
 * is a point of cuBLASLt's algorithm space: the rank of an algorithm in the list
 * cublasLtMatmulAlgoGetHeuristic returns (0 = cuBLASLt's first choice), with split-K and CTA
 * swizzle set on it; cublasLtMatmulAlgoCheck rejects what cannot run. Row-major Y[M×N] is
 * column-major Yᵀ[N×M] = W·Xᵀ: a "TN" product, the layout int8 and fp8 require. */
#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <string.h>

#include "kernels/cuda/qk_cuda.h"
#include "kernels/internal.h"

enum { HEURISTICS = 8, CACHE = 32 };
static const size_t LT_WORKSPACE = (size_t)32 << 20;

typedef struct plan {
    int used;
    qk_problem p;
    qk_config cfg;
    int fp32_out; /* the product's own output type (fp8 per channel, w8a8: scaled afterwards) */
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t a, b, c;
    cublasLtMatmulAlgo_t algo;
} plan;

static cublasLtHandle_t handle;
static plan cache[CACHE];
static int next_slot;

static int lt_ok(cublasStatus_t s, const char *what)
{
    if (s == CUBLAS_STATUS_SUCCESS)
        return 1;
    qk_cuda_set_error("cuBLASLt %s: status %d", what, (int)s);
    return 0;
}

static void plan_free(plan *pl)
{
    if (!pl->used)
        return;
    cublasLtMatmulDescDestroy(pl->op);
    cublasLtMatrixLayoutDestroy(pl->a);
    cublasLtMatrixLayoutDestroy(pl->b);
    cublasLtMatrixLayoutDestroy(pl->c);
    pl->used = 0;
}

/* The plan for (problem, configuration): made once, then reused by every timed call. */
static plan *plan_get(const qk_kernel *k, const qk_problem *p, const qk_config *cfg)
{
    for (int i = 0; i < CACHE; i++)
        if (cache[i].used && !memcmp(&cache[i].p, p, sizeof *p) && !memcmp(&cache[i].cfg, cfg, sizeof *cfg))
            return &cache[i];
    if (!handle && !lt_ok(cublasLtCreate(&handle), "create"))
        return NULL;
    plan *pl = &cache[next_slot];
    next_slot = (next_slot + 1) % CACHE;
    plan_free(pl);
    memset(pl, 0, sizeof *pl);
    pl->p = *p;
    pl->cfg = *cfg;
    cudaDataType_t ab, out;
    cublasComputeType_t compute;
    cudaDataType_t scale;
    switch (p->scheme) {
    case QK_W8A8:
        ab = CUDA_R_8I;
        out = CUDA_R_32I;
        compute = CUBLAS_COMPUTE_32I;
        scale = CUDA_R_32I;
        pl->fp32_out = 1;
        break;
    case QK_FP8:
        ab = CUDA_R_8F_E4M3;
        pl->fp32_out = p->fp8_channel || p->out_f32;
        out = pl->fp32_out ? CUDA_R_32F : qk_problem_bf16(p) ? CUDA_R_16BF : CUDA_R_16F;
        compute = CUBLAS_COMPUTE_32F;
        scale = CUDA_R_32F;
        break;
    default: /* fp16, bf16 */
        ab = p->scheme == QK_BF16 ? CUDA_R_16BF : CUDA_R_16F;
        out = p->out_f32 ? CUDA_R_32F : ab;
        compute = CUBLAS_COMPUTE_32F;
        scale = CUDA_R_32F;
        break;
    }
    cublasOperation_t t = CUBLAS_OP_T, n = CUBLAS_OP_N;
    if (!lt_ok(cublasLtMatmulDescCreate(&pl->op, compute, scale), "matmul descriptor") ||
        !lt_ok(cublasLtMatmulDescSetAttribute(pl->op, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof t), "transa") ||
        !lt_ok(cublasLtMatmulDescSetAttribute(pl->op, CUBLASLT_MATMUL_DESC_TRANSB, &n, sizeof n), "transb") ||
        !lt_ok(cublasLtMatrixLayoutCreate(&pl->a, ab, (uint64_t)p->k, (uint64_t)p->n, p->k), "A layout") ||
        !lt_ok(cublasLtMatrixLayoutCreate(&pl->b, ab, (uint64_t)p->k, (uint64_t)p->m, p->k), "B layout") ||
        !lt_ok(cublasLtMatrixLayoutCreate(&pl->c, out, (uint64_t)p->n, (uint64_t)p->m, p->n), "C layout"))
        return NULL;
    pl->used = 1;
    /* fp8: the scale pointers are set per call (they are device addresses) */
    cublasLtMatmulPreference_t pref;
    size_t ws = LT_WORKSPACE;
    cublasLtMatmulHeuristicResult_t res[HEURISTICS];
    int found = 0;
    if (!lt_ok(cublasLtMatmulPreferenceCreate(&pref), "preference"))
        return NULL;
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
    cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(handle, pl->op, pl->a, pl->b, pl->c, pl->c, pref, HEURISTICS,
                                                       res, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    const int rank = qk_config_get(k, cfg, "algo", 0);
    if (st != CUBLAS_STATUS_SUCCESS || found <= rank) {
        qk_cuda_set_error("cuBLASLt offers %d algorithm%s for this problem; algo=%d is not one of them", found,
                          found == 1 ? "" : "s", rank);
        plan_free(pl);
        return NULL;
    }
    pl->algo = res[rank].algo;
    int splitk = qk_config_get(k, cfg, "splitk", 0), swizzle = qk_config_get(k, cfg, "swizzle", 0);
    if (splitk > 0)
        cublasLtMatmulAlgoConfigSetAttribute(&pl->algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splitk, sizeof splitk);
    cublasLtMatmulAlgoConfigSetAttribute(&pl->algo, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING, &swizzle, sizeof swizzle);
    cublasLtMatmulHeuristicResult_t check;
    if (cublasLtMatmulAlgoCheck(handle, pl->op, pl->a, pl->b, pl->c, pl->c, &pl->algo, &check) !=
            CUBLAS_STATUS_SUCCESS ||
        check.workspaceSize > LT_WORKSPACE) {
        qk_cuda_set_error("cuBLASLt rejects algo=%d with splitk=%d swizzle=%d for this problem", rank, splitk, swizzle);
        plan_free(pl);
        return NULL;
    }
    return pl;
}

/* Workspace: cuBLASLt's, the quantized activations and their scales, and the raw product. */
size_t qk_cuda_lt_work(const qk_kernel *k, const qk_problem *p, const qk_config *cfg)
{
    (void)k, (void)cfg;
    return LT_WORKSPACE + qk_align64((size_t)p->m * p->k) + qk_align64((size_t)p->m * 4 + 64) +
           qk_align64((size_t)p->m * p->n * 4);
}

void qk_cuda_lt(const qk_run_args *a)
{
    const qk_weights *w = a->w;
    qk_problem p = w->p;
    p.m = a->m;
    plan *pl = plan_get(a->kernel, &p, a->cfg);
    if (!pl)
        return;
    char *work = a->work, *lt_ws = work, *xq = work + LT_WORKSPACE;
    float *xs = (float *)(xq + qk_align64((size_t)p.m * p.k)); /* row scales (w8a8) or [scale, amax] (fp8) */
    void *raw = (char *)xs + qk_align64((size_t)p.m * 4 + 64);
    const void *bmat = a->x;
    const int bf16 = qk_problem_bf16(&p);
    if (p.scheme == QK_W8A8) { /* per-token int8 inside the timed region */
        int32_t *gsum = (int32_t *)raw; /* scratch: overwritten by the product */
        qk_cuda_quantize_rows(a->x, bf16, p.m, p.k, p.k, (int8_t *)xq, xs, gsum, a->stream);
        bmat = xq;
    } else if (p.scheme == QK_FP8) {
        qk_cuda_quantize_fp8(a->x, bf16, (size_t)p.m * p.k, (uint8_t *)xq, xs + 1, xs, a->stream);
        bmat = xq;
        if (!p.fp8_channel &&
            !lt_ok(cublasLtMatmulDescSetAttribute(pl->op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &w->tscale_dev,
                                                  sizeof w->tscale_dev), "A scale"))
            return;
        float *bs = xs;
        if (!lt_ok(cublasLtMatmulDescSetAttribute(pl->op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &bs, sizeof bs), "B scale"))
            return;
    }
    const float one = 1.0f, zero = 0.0f;
    const int32_t ione = 1, izero = 0;
    const void *alpha = p.scheme == QK_W8A8 ? (const void *)&ione : (const void *)&one;
    const void *beta = p.scheme == QK_W8A8 ? (const void *)&izero : (const void *)&zero;
    const int scaled_after = p.scheme == QK_W8A8 || (p.scheme == QK_FP8 && p.fp8_channel);
    void *d = scaled_after ? raw : a->y;
    if (!lt_ok(cublasLtMatmul(handle, pl->op, alpha, w->q, pl->a, bmat, pl->b, beta, d, pl->c, d, pl->c, &pl->algo,
                              lt_ws, LT_WORKSPACE, (cudaStream_t)a->stream),
               "matmul"))
        return;
    if (p.scheme == QK_W8A8)
        qk_cuda_epilogue(raw, 1, xs, w->cscale, 1.0f, p.m, p.n, a->y, p.out_f32, bf16, a->stream);
    else if (scaled_after)
        qk_cuda_epilogue(raw, 0, NULL, w->cscale, 1.0f, p.m, p.n, a->y, p.out_f32, bf16, a->stream);
}
