/* kernels/onednn: oneDNN (Debian's libdnnl 2.6) as a provider of kernels, rows of the registry
 * like any other: checked against the fp64 reference, timed, placed and tuned as every kernel.
 *
 * w8a8.onednn: u8 × s8 → s32 matmul (brgemm with AVX-512 VNNI where the CPU has it). The
 * weights are quantized by qbench's own quantizer (int8 per channel) and reordered offline, at
 * packing, into the layout the matmul wants (which does not depend on M); the activations are
 * quantized per token by qbench's own routine inside the call, as for qbench's kernels, and
 * enter as x + 128 (u8); the epilogue takes 128·Σw off and applies the token and channel
 * scales. So the two compute the same thing from the same bytes.
 *
 * bf16.onednn: bf16 × bf16 → bf16 (or f32) matmul (AVX-512 BF16 where the CPU has it), on
 * qbench's own bf16 weights reordered offline the same way, and X as it comes.
 *
 * libdnnl.so.2 (or the library $QBENCH_ONEDNN_LIB names) is loaded at run time: where it is
 * missing, the rows say so and never run. */
#include <dlfcn.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/internal.h"

/* ---- the library, loaded at run time ---- */

#define DNNL_FUNCTIONS(X)                                                                                          \
    X(dnnl_engine_create)                                                                                          \
    X(dnnl_stream_create)                                                                                          \
    X(dnnl_stream_wait)                                                                                            \
    X(dnnl_memory_desc_init_by_tag)                                                                                \
    X(dnnl_memory_desc_equal)                                                                                      \
    X(dnnl_memory_desc_get_size)                                                                                   \
    X(dnnl_matmul_desc_init)                                                                                       \
    X(dnnl_primitive_desc_create)                                                                                  \
    X(dnnl_primitive_desc_destroy)                                                                                 \
    X(dnnl_primitive_desc_query_md)                                                                                \
    X(dnnl_reorder_primitive_desc_create)                                                                          \
    X(dnnl_primitive_create)                                                                                       \
    X(dnnl_primitive_destroy)                                                                                      \
    X(dnnl_primitive_execute)                                                                                      \
    X(dnnl_memory_create)                                                                                          \
    X(dnnl_memory_destroy)                                                                                         \
    X(dnnl_memory_set_data_handle)                                                                                 \
    X(dnnl_version)

static struct {
#define FIELD(f) __typeof__(&f) f;
    DNNL_FUNCTIONS(FIELD)
#undef FIELD
} api;

static int loaded = -1; /* unknown, 0 unavailable, 1 loaded */
static char load_why[256];
static dnnl_engine_t engine;
static dnnl_stream_t stream;

static int load(void)
{
    if (loaded >= 0)
        return loaded;
    loaded = 0;
    const char *name = getenv("QBENCH_ONEDNN_LIB");
    if (!name || !*name)
        name = "libdnnl.so.2";
    void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(load_why, sizeof load_why, "unavailable: %s could not be loaded (Debian: apt-get install libdnnl2.6; "
                 "or name the library in QBENCH_ONEDNN_LIB)", name);
        return 0;
    }
#define RESOLVE(f)                                                                                                 \
    if (!(api.f = (__typeof__(&f))dlsym(lib, #f))) {                                                               \
        snprintf(load_why, sizeof load_why, "unavailable: libdnnl.so.2 has no %s (a oneDNN 2.x is needed)", #f);    \
        return 0;                                                                                                  \
    }
    DNNL_FUNCTIONS(RESOLVE)
#undef RESOLVE
    const dnnl_version_t *v = api.dnnl_version();
    if (v->major != 2) {
        snprintf(load_why, sizeof load_why, "unavailable: libdnnl.so.2 is oneDNN %d.%d (qbench speaks the 2.x API)",
                 v->major, v->minor);
        return 0;
    }
    if (api.dnnl_engine_create(&engine, dnnl_cpu, 0) || api.dnnl_stream_create(&stream, engine, dnnl_stream_default_flags)) {
        snprintf(load_why, sizeof load_why, "unavailable: oneDNN could not create a CPU engine");
        return 0;
    }
    loaded = 1;
    return 1;
}

int qk_onednn_available(char *why, size_t len)
{
    if (load())
        return 1;
    snprintf(why, len, "%s", load_why);
    return 0;
}

/* ---- matmul plans: Y[M×N] = X[M×K] · W (K×N): s32 = u8 · s8 (w8a8), or bf16|f32 = bf16 · bf16 ---- */

/* The data types of a scheme's matmul: source (and weights) and destination. */
typedef struct types {
    dnnl_data_type_t src, wei, dst;
} types;

static types types_of(const qk_problem *p)
{
    if (p->scheme == QK_BF16)
        return (types){dnnl_bf16, dnnl_bf16, p->out_f32 ? dnnl_f32 : dnnl_bf16};
    return (types){dnnl_u8, dnnl_s8, dnnl_s32};
}

typedef struct plan {
    int m, n, k;
    types t;
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, dst;
} plan;

enum { PLANS = 64 };
static plan plans[PLANS];
static int next_plan;

static void plan_free(plan *p)
{
    if (p->prim) {
        api.dnnl_primitive_destroy(p->prim);
        api.dnnl_memory_destroy(p->src);
        api.dnnl_memory_destroy(p->wei);
        api.dnnl_memory_destroy(p->dst);
    }
    memset(p, 0, sizeof *p);
}

static dnnl_status_t matmul_pd(int m, int n, int k, types t, dnnl_primitive_desc_t *pd)
{
    dnnl_memory_desc_t src, wei, dst;
    dnnl_dims_t sd = {m, k}, wd = {k, n}, dd = {m, n};
    dnnl_matmul_desc_t md;
    dnnl_status_t s;
    if ((s = api.dnnl_memory_desc_init_by_tag(&src, 2, sd, t.src, dnnl_ab)) ||
        (s = api.dnnl_memory_desc_init_by_tag(&wei, 2, wd, t.wei, dnnl_format_tag_any)) ||
        (s = api.dnnl_memory_desc_init_by_tag(&dst, 2, dd, t.dst, dnnl_ab)) ||
        (s = api.dnnl_matmul_desc_init(&md, &src, &wei, NULL, &dst)))
        return s;
    return api.dnnl_primitive_desc_create(pd, &md, NULL, engine, NULL);
}

static const char *types_name(types t) { return t.src == dnnl_bf16 ? "bf16 x bf16" : "u8 x s8"; }

/* The weights layout the matmul wants for (N, K): the same at every M (checked by each plan). */
static int weights_md(int n, int k, types t, dnnl_memory_desc_t *out, char *why, size_t len)
{
    dnnl_primitive_desc_t pd;
    dnnl_status_t s = matmul_pd(1, n, k, t, &pd);
    if (s) {
        snprintf(why, len, "oneDNN has no %s matmul for N=%d K=%d (status %d)", types_name(t), n, k, (int)s);
        return QC_EINPUT;
    }
    *out = *api.dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    api.dnnl_primitive_desc_destroy(pd);
    return QC_OK;
}

static plan *plan_get(int m, int n, int k, types t, char *why, size_t len)
{
    for (int i = 0; i < PLANS; i++)
        if (plans[i].prim && plans[i].m == m && plans[i].n == n && plans[i].k == k && !memcmp(&plans[i].t, &t, sizeof t))
            return &plans[i];
    plan *p = &plans[next_plan];
    next_plan = (next_plan + 1) % PLANS;
    plan_free(p);
    dnnl_primitive_desc_t pd;
    dnnl_memory_desc_t packed;
    if (weights_md(n, k, t, &packed, why, len))
        return NULL;
    dnnl_status_t s = matmul_pd(m, n, k, t, &pd);
    if (s) {
        snprintf(why, len, "oneDNN has no %s matmul for M=%d N=%d K=%d (status %d)", types_name(t), m, n, k, (int)s);
        return NULL;
    }
    if (!api.dnnl_memory_desc_equal(&packed, api.dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0))) {
        snprintf(why, len, "oneDNN wants another weight layout at M=%d than at M=1 (the weights were reordered "
                 "once, for M=1)", m);
        api.dnnl_primitive_desc_destroy(pd);
        return NULL;
    }
    s = api.dnnl_primitive_create(&p->prim, pd);
    if (!s)
        s = api.dnnl_memory_create(&p->src, api.dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), engine,
                                   DNNL_MEMORY_NONE);
    if (!s)
        s = api.dnnl_memory_create(&p->wei, &packed, engine, DNNL_MEMORY_NONE);
    if (!s)
        s = api.dnnl_memory_create(&p->dst, api.dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), engine,
                                   DNNL_MEMORY_NONE);
    api.dnnl_primitive_desc_destroy(pd);
    if (s) {
        snprintf(why, len, "oneDNN could not make the matmul for M=%d N=%d K=%d (status %d)", m, n, k, (int)s);
        plan_free(p);
        return NULL;
    }
    p->m = m, p->n = n, p->k = k, p->t = t;
    return p;
}

/* ---- weights: qbench's quantization (int8, or bf16), reordered offline ---- */

/* One reorder between the plain N×K matrix (dims {K, N}, K innermost) and the packed one. */
static int reorder(int n, int k, types t, const dnnl_memory_desc_t *packed, void *plain, void *blob, int to_packed,
                   qc_msgs *err)
{
    dnnl_memory_desc_t pmd;
    dnnl_dims_t wd = {k, n};
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t r = NULL;
    dnnl_memory_t a = NULL, b = NULL;
    dnnl_status_t s = api.dnnl_memory_desc_init_by_tag(&pmd, 2, wd, t.wei, dnnl_ba);
    if (!s)
        s = to_packed ? api.dnnl_reorder_primitive_desc_create(&rpd, &pmd, engine, packed, engine, NULL)
                      : api.dnnl_reorder_primitive_desc_create(&rpd, packed, engine, &pmd, engine, NULL);
    if (!s)
        s = api.dnnl_primitive_create(&r, rpd);
    if (!s)
        s = api.dnnl_memory_create(&a, &pmd, engine, plain);
    if (!s)
        s = api.dnnl_memory_create(&b, packed, engine, blob);
    if (!s) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, to_packed ? a : b}, {DNNL_ARG_DST, to_packed ? b : a}};
        s = api.dnnl_primitive_execute(r, stream, 2, args);
    }
    if (!s)
        s = api.dnnl_stream_wait(stream);
    if (a)
        api.dnnl_memory_destroy(a);
    if (b)
        api.dnnl_memory_destroy(b);
    if (r)
        api.dnnl_primitive_destroy(r);
    if (rpd)
        api.dnnl_primitive_desc_destroy(rpd);
    if (s) {
        qc_msgs_addf(err, "oneDNN could not reorder %d x %d weights (status %d)", n, k, (int)s);
        return QC_ERUNTIME;
    }
    return QC_OK;
}

int qk_onednn_pack(qk_weights *w, qc_msgs *err)
{
    char why[256];
    const qk_problem *p = &w->p;
    const char *name = p->scheme == QK_BF16 ? "bf16.onednn" : "w8a8.onednn";
    if (!qk_onednn_available(why, sizeof why)) {
        qc_msgs_addf(err, "%s: %s", name, why);
        return QC_ERUNTIME;
    }
    const int N = p->n, K = p->k, nr = w->nr, bf16 = p->scheme == QK_BF16;
    const types t = types_of(p);
    dnnl_memory_desc_t packed;
    if (weights_md(N, K, t, &packed, why, sizeof why)) {
        qc_msgs_addf(err, "%s: %s", name, why);
        return QC_EINPUT;
    }
    size_t bytes = api.dnnl_memory_desc_get_size(&packed);
    void *plain = malloc((size_t)N * K * (bf16 ? 2 : 1));
    void *blob = qc_alloc(bytes);
    if (!plain || !blob) {
        free(plain), free(blob);
        qc_msgs_addf(err, "out of memory packing %zu bytes of weights", bytes);
        return QC_ERUNTIME;
    }
    for (int n = 0; n < N; n++) { /* from the CPU panels: [K4][nr][4] int8, [K2][nr][2] bf16 */
        const uint8_t *pb = qk_panel(w, n / nr);
        for (int k = 0; k < K; k++)
            if (bf16)
                ((uint16_t *)plain)[(size_t)n * K + k] = ((const uint16_t *)pb)[((size_t)(k / 2) * nr + n % nr) * 2 + k % 2];
            else
                ((int8_t *)plain)[(size_t)n * K + k] = (int8_t)pb[((size_t)(k / 4) * nr + n % nr) * 4 + k % 4];
    }
    int rc = reorder(N, K, t, &packed, plain, blob, 1, err);
    free(plain);
    if (rc) {
        free(blob);
        return rc;
    }
    free(w->q);
    w->q = blob;
    w->q_bytes = bytes;
    w->layout = QK_LAYOUT_ONEDNN;
    w->panels = 0;
    w->nr = 0;
    return QC_OK; /* cscale and csum keep their first N entries (the panels' padding trails) */
}

int qk_onednn_unpack(const qk_weights *w, void *plain, qc_msgs *err)
{
    char why[256];
    dnnl_memory_desc_t packed;
    const types t = types_of(&w->p);
    if (!qk_onednn_available(why, sizeof why) || weights_md(w->p.n, w->p.k, t, &packed, why, sizeof why)) {
        qc_msgs_addf(err, "%s.onednn: %s", qk_scheme_name(w->p.scheme), why);
        return QC_ERUNTIME;
    }
    return reorder(w->p.n, w->p.k, t, &packed, plain, w->q, 0, err);
}

/* Runs a plan on these buffers with T threads. */
static void execute(plan *pl, int T, const void *src, const void *wei, void *dst)
{
    omp_set_num_threads(T);
    api.dnnl_memory_set_data_handle(pl->src, (void *)src);
    api.dnnl_memory_set_data_handle(pl->wei, (void *)wei);
    api.dnnl_memory_set_data_handle(pl->dst, dst);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, pl->src}, {DNNL_ARG_WEIGHTS, pl->wei}, {DNNL_ARG_DST, pl->dst}};
    api.dnnl_primitive_execute(pl->prim, stream, 3, args);
    api.dnnl_stream_wait(stream);
}

/* ---- the kernel ---- */

/* w8a8: X quantized (as the integer loop's qk_int_activations lays it out) and the int32
 * accumulators [M][N]; bf16: none (oneDNN reads X and writes Y as they are) */
size_t qk_onednn_work(const qk_kernel *k, const qk_problem *p, const qk_config *cfg)
{
    (void)k, (void)cfg;
    if (p->scheme == QK_BF16)
        return 0;
    return qk_align64((size_t)p->m * qk_k4(p) * 4) + qk_align64((size_t)p->m * 4) +
           qk_align64((size_t)p->m * qk_groups(p) * 4) + qk_align64((size_t)p->m * p->n * 4) + 64;
}

void qk_onednn_w8a8(const qk_run_args *a)
{
    const qk_weights *w = a->w;
    qk_problem p = w->p;
    p.m = a->m;
    const int M = a->m, N = p.n, K = p.k, K4 = qk_k4(&p) * 4;
    const int T = qk_config_get(a->kernel, a->cfg, "threads", omp_get_max_threads());
    char why[256];
    plan *pl = plan_get(M, N, K, types_of(&p), why, sizeof why);
    if (!pl) { /* qk_gemm checked the problem; a plan that cannot be made leaves a poisoned output */
        fprintf(stderr, "qbench: %s: %s\n", a->kernel->name, why);
        return;
    }
    /* activations: qbench's per-token quantizer, then x + 128 as u8 (flip the sign bit) */
    qk_int_act act = qk_int_activations(&p, a->x, M, T, a->work, qk_int8_quantizer());
    uint8_t *src = (uint8_t *)act.q;
    if (K4 != K) { /* oneDNN reads rows of K: compact the rows of K4 */
        for (int r = 1; r < M; r++)
            memmove(src + (size_t)r * K, src + (size_t)r * K4, (size_t)K);
    }
    for (size_t i = 0; i < (size_t)M * K; i++)
        src[i] ^= 0x80;
    int32_t *acc = (int32_t *)act.rest;
    execute(pl, T, src, w->q, acc);
    /* y = (acc − 128·Σw) · s_m · s_n */
#pragma omp parallel for num_threads(T) schedule(static)
    for (int r = 0; r < M; r++)
        qk_store_s32_avx2(&p, a->y, r, 0, N, acc + (size_t)r * N, 128, w->csum, act.s[r], w->cscale);
}

void qk_onednn_bf16(const qk_run_args *a)
{
    qk_problem p = a->w->p;
    p.m = a->m;
    char why[256];
    plan *pl = plan_get(a->m, p.n, p.k, types_of(&p), why, sizeof why);
    if (!pl) {
        fprintf(stderr, "qbench: %s: %s\n", a->kernel->name, why);
        return;
    }
    execute(pl, qk_config_get(a->kernel, a->cfg, "threads", omp_get_max_threads()), a->x, a->w->q, a->y);
}
