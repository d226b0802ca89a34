/* The kernel registry: one designated-initialiser table keyed by an enum, in the style of
 * ggml's type_traits. A CPU row names its loop (kernels/cpu/loop_*.c) and the micro-kernels
 * it drives; adding a kernel = one row here + its micro-kernels in one file. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hardware/hardware.h"
#include "kernels/cuda/qk_cuda.h"
#include "kernels/internal.h"

typedef enum qk_kernel_id {
    QK_K_FP16_GENERIC,
    QK_K_W8A16_GENERIC,
    QK_K_W4A16_GENERIC,
    QK_K_W8A8_GENERIC,
    QK_K_W4A8_GENERIC,
    QK_K_FP8_GENERIC,
    QK_K_FP16_AVX2,
    QK_K_W8A16_AVX2,
    QK_K_W4A16_AVX2,
    QK_K_W8A8_AVX2,
    QK_K_W4A8_AVX2,
    QK_K_FP8_AVX2,
    QK_K_FP16_AVX512,
    QK_K_W8A16_AVX512,
    QK_K_FP8_AVX512,
    QK_K_W4A16_AVX512,
    QK_K_W4A16_AVX512BF16,
    QK_K_W8A8_AVX512VNNI,
    QK_K_W4A8_AVX512VNNI,
    QK_K_W4A16_CUDA,
    QK_K_W8A16_CUDA,
    QK_K_FP16_CUBLASLT,
    QK_K_W8A8_CUBLASLT,
    QK_K_FP8_CUBLASLT,
    QK_K_W4A8_CUDA,
    QK_K_BF16_GENERIC,
    QK_K_BF16_AVX512,
    QK_K_BF16_AVX512BF16,
    QK_K_BF16_CUBLASLT,
    QK_K_W8A16_AVX512BF16,
    QK_K_FP8_AVX512BF16,
#ifdef QBENCH_HAVE_ONEDNN
    QK_K_W8A8_ONEDNN,
    QK_K_BF16_ONEDNN,
#endif
    QK_KERNEL_COUNT
} qk_kernel_id;

#define P_THREADS {"threads", "worker threads (1 .. the machine's hardware threads)", 0, {0}}
#define P_MR {"mr", "rows of X per register tile in the small-M path", 4, {1, 2, 3, 4}}
#define P_KC_F {"kc", "K block of the pre-dequantized path (floats per panel row)", 4, {64, 128, 256, 512}}
#define P_KC_I {"kc", "K block (a multiple of the group size)", 4, {128, 256, 512, 1024}}
#define P_NC {"nc", "N block: output channels a thread works on at once (a multiple of the panel width)", 4, {16, 32, 64, 128}}
#define P_NC64 {"nc", "N block: output channels a thread works on at once (a multiple of the panel width)", 4, {64, 128, 256, 512}}
#define P_MR6 {"mr", "rows of X per register tile", 6, {1, 2, 3, 4, 5, 6}}
#define P_PREDEQ {"predequant", "1: the large-M path: weight panels dequantized to fp32 once per K block (bf16 on vdpbf16ps: multiplied as packed)", 2, {0, 1}}
#define P_PREDEQ_DOT {"predequant", "1: the large-M path on fp32 (weight panels dequantized once per K block); 2: on vdpbf16ps (decoded to bf16 k-pairs once per K block; bf16 or fp8 activations)", 3, {0, 1, 2}}
#define P_TILE {"tile", "block tile: 0 16x128, 1 32x128, 2 64x128, 3 128x128", 4, {0, 1, 2, 3}}
#define P_STAGES {"stages", "cp.async shared-memory pipeline stages", 3, {2, 3, 4}}
#define P_SPLITK {"splitk", "K split across thread blocks (fp32 partials, then a sum)", 4, {1, 2, 4, 8}}
#define P_ALGO {"algo", "rank in cuBLASLt's heuristic list (0: its first choice)", 8, {0, 1, 2, 3, 4, 5, 6, 7}}
#define P_LTSPLIT {"splitk", "cuBLASLt split-K (0: the algorithm's own)", 4, {0, 1, 2, 4}}
#define P_SWIZZLE {"swizzle", "cuBLASLt CTA swizzling", 2, {0, 1}}
#define P_BLOCK {"block", "threads per block", 3, {64, 128, 256}}

static const char *format_int(const qk_kernel *k, const qk_config *cfg);
static int check_cpu(const qk_kernel *k, const qk_problem *p, const qk_config *cfg, char *why, size_t len);
static void defaults_cpu(const qk_kernel *k, const qk_problem *p, qk_config *cfg);
static int check_cuda_wonly(const qk_kernel *k, const qk_problem *p, const qk_config *cfg, char *why, size_t len);
static int check_cuda_lt(const qk_kernel *k, const qk_problem *p, const qk_config *cfg, char *why, size_t len);
static int check_cuda_w4a8(const qk_kernel *k, const qk_problem *p, const qk_config *cfg, char *why, size_t len);
static void defaults_cuda_wonly(const qk_kernel *k, const qk_problem *p, qk_config *cfg);
static void defaults_cuda_lt(const qk_kernel *k, const qk_problem *p, qk_config *cfg);
static void defaults_cuda_w4a8(const qk_kernel *k, const qk_problem *p, qk_config *cfg);
#ifdef QBENCH_HAVE_ONEDNN
static int check_onednn(const qk_kernel *k, const qk_problem *p, const qk_config *cfg, char *why, size_t len);
static void defaults_threads(const qk_kernel *k, const qk_problem *p, qk_config *cfg);
#endif

/* The micro-kernels of each CPU float kernel: its small-M and large-M families. */
static const qk_ukr_float float_generic = {NULL, &qk_large_generic, NULL};
static const qk_ukr_float float_avx2 = {&qk_small_avx2, &qk_large_avx2, NULL};
static const qk_ukr_float float_avx512 = {&qk_small_avx512, &qk_large_avx512, NULL};
static const qk_ukr_float float_avx512bf16 = {&qk_small_avx512bf16, &qk_large_avx512, NULL};
static const qk_ukr_float float_bf16dot = {&qk_small_avx512_beside_dot, &qk_large_avx512bf16, NULL};
static const qk_ukr_float float_avx512_dot = {&qk_small_avx512_beside_pairs, &qk_large_avx512, &qk_large_avx512bf16};

#define AVX2 ((1u << QH_AVX2) | (1u << QH_FMA) | (1u << QH_F16C))
#define AVX512 (AVX2 | (1u << QH_AVX512F) | (1u << QH_AVX512BW) | (1u << QH_AVX512VL))
#define AVX512_PAIRS (AVX512 | (1u << QH_AVX512_BF16) | (1u << QH_AVX512VBMI)) /* the pairs' decode */
#define N_PARAMS(...) (int)(sizeof((qk_param[]){__VA_ARGS__}) / sizeof(qk_param))
#define CPU_ROW(s, nm, is, nd, u, nr)                                                                                \
    .name = nm, .scheme = s, .isa = is, .needs = nd, .packing = {QK_LAYOUT_CPU, nr}, .check = check_cpu,           \
    .defaults = defaults_cpu, .ukr = u
#define FLOAT_ROW(s, nm, is, nd, u, nr, ...)                                                                         \
    {CPU_ROW(s, nm, is, nd, u, nr), .format_of = qk_format_float, .workspace = qk_work_float, .run = qk_run_float, \
     .n_params = N_PARAMS(__VA_ARGS__), .params = {__VA_ARGS__}}
#define INT_ROW(s, nm, is, nd, u, nr, ...)                                                                           \
    {CPU_ROW(s, nm, is, nd, u, nr), .format_of = format_int, .workspace = qk_work_int, .run = qk_run_int,          \
     .n_params = N_PARAMS(__VA_ARGS__), .params = {__VA_ARGS__}}
#define FLOAT_PARAMS P_THREADS, P_MR, P_KC_F, P_NC, P_PREDEQ
#define FLOAT512_PARAMS P_THREADS, P_MR, P_KC_F, P_NC64, P_PREDEQ
#define FLOAT512_DOT_PARAMS P_THREADS, P_MR, P_KC_F, P_NC64, P_PREDEQ_DOT
#define INT_PARAMS P_THREADS, P_MR, P_KC_I, P_NC
#define VNNI_PARAMS P_THREADS, P_MR6, P_KC_I, P_NC64
#define CUDA_ROW(s, nm, fmt)                                                                                         \
    .name = nm, .scheme = s, .isa = "cuda", .needs = QK_NEEDS_CUDA, .packing = {QK_LAYOUT_CUDA, 0}, .format = fmt
#define CUDA_WONLY(s, nm)                                                                                            \
    {CUDA_ROW(s, nm, "fp16_tensor"), .n_params = 3, .params = {P_TILE, P_STAGES, P_SPLITK},                        \
     .check = check_cuda_wonly, .workspace = qk_cuda_wonly_work, .run = qk_cuda_wonly, .defaults = defaults_cuda_wonly}
#define CUDA_LT(s, nm, fmt)                                                                                          \
    {CUDA_ROW(s, nm, fmt), .n_params = 3, .params = {P_ALGO, P_LTSPLIT, P_SWIZZLE}, .check = check_cuda_lt,        \
     .workspace = qk_cuda_lt_work, .run = qk_cuda_lt, .defaults = defaults_cuda_lt}

static const qk_kernel table[QK_KERNEL_COUNT] = {
    [QK_K_FP16_GENERIC] = FLOAT_ROW(QK_FP16, "fp16.generic", "generic", 0, &float_generic, 16, P_THREADS),
    [QK_K_W8A16_GENERIC] = FLOAT_ROW(QK_W8A16, "w8a16.generic", "generic", 0, &float_generic, 16, P_THREADS),
    [QK_K_W4A16_GENERIC] = FLOAT_ROW(QK_W4A16, "w4a16.generic", "generic", 0, &float_generic, 16, P_THREADS),
    [QK_K_W8A8_GENERIC] = INT_ROW(QK_W8A8, "w8a8.generic", "generic", 0, &qk_int_generic, 16, P_THREADS),
    [QK_K_W4A8_GENERIC] = INT_ROW(QK_W4A8, "w4a8.generic", "generic", 0, &qk_int_generic, 16, P_THREADS),
    [QK_K_FP8_GENERIC] = FLOAT_ROW(QK_FP8, "fp8.generic", "generic", 0, &float_generic, 16, P_THREADS),
    [QK_K_FP16_AVX2] = FLOAT_ROW(QK_FP16, "fp16.avx2", "avx2", AVX2, &float_avx2, 16, FLOAT_PARAMS),
    [QK_K_W8A16_AVX2] = FLOAT_ROW(QK_W8A16, "w8a16.avx2", "avx2", AVX2, &float_avx2, 16, FLOAT_PARAMS),
    [QK_K_W4A16_AVX2] = FLOAT_ROW(QK_W4A16, "w4a16.avx2", "avx2", AVX2, &float_avx2, 16, FLOAT_PARAMS),
    [QK_K_W8A8_AVX2] = INT_ROW(QK_W8A8, "w8a8.avx2", "avx2", AVX2, &qk_int_avx2, 16, INT_PARAMS),
    [QK_K_W4A8_AVX2] = INT_ROW(QK_W4A8, "w4a8.avx2", "avx2", AVX2, &qk_int_avx2, 16, INT_PARAMS),
    [QK_K_FP8_AVX2] = FLOAT_ROW(QK_FP8, "fp8.avx2", "avx2", AVX2, &float_avx2, 16, FLOAT_PARAMS),
    [QK_K_FP16_AVX512] = FLOAT_ROW(QK_FP16, "fp16.avx512", "avx512", AVX512, &float_avx512, 64, FLOAT512_PARAMS),
    [QK_K_W8A16_AVX512] = FLOAT_ROW(QK_W8A16, "w8a16.avx512", "avx512", AVX512, &float_avx512, 64, FLOAT512_PARAMS),
    [QK_K_FP8_AVX512] = FLOAT_ROW(QK_FP8, "fp8.avx512", "avx512", AVX512, &float_avx512, 64, FLOAT512_PARAMS),
    [QK_K_W4A16_AVX512] = FLOAT_ROW(QK_W4A16, "w4a16.avx512", "avx512", AVX512, &float_avx512, 64, FLOAT512_PARAMS),
    [QK_K_W4A16_AVX512BF16] = FLOAT_ROW(QK_W4A16, "w4a16.avx512bf16", "avx512bf16", AVX512 | (1u << QH_AVX512_BF16),
                                        &float_avx512bf16, 64, FLOAT512_PARAMS),
    [QK_K_W8A8_AVX512VNNI] = INT_ROW(QK_W8A8, "w8a8.avx512vnni", "avx512vnni", AVX512 | (1u << QH_AVX512_VNNI),
                                     &qk_int_vnni, 64, VNNI_PARAMS),
    [QK_K_W4A8_AVX512VNNI] = INT_ROW(QK_W4A8, "w4a8.avx512vnni", "avx512vnni", AVX512 | (1u << QH_AVX512_VNNI),
                                     &qk_int_vnni4, 32, VNNI_PARAMS),
    [QK_K_W4A16_CUDA] = CUDA_WONLY(QK_W4A16, "w4a16.cuda"),
    [QK_K_W8A16_CUDA] = CUDA_WONLY(QK_W8A16, "w8a16.cuda"),
    [QK_K_FP16_CUBLASLT] = CUDA_LT(QK_FP16, "fp16.cublaslt", "fp16_tensor"),
    [QK_K_W8A8_CUBLASLT] = CUDA_LT(QK_W8A8, "w8a8.cublaslt", "int8_tensor"),
    [QK_K_FP8_CUBLASLT] = CUDA_LT(QK_FP8, "fp8.cublaslt", "fp8_tensor"),
    /* dp4a on CUDA cores: no ceiling of its own is measured, so the int8 tensor peak bounds it */
    [QK_K_W4A8_CUDA] = {CUDA_ROW(QK_W4A8, "w4a8.cuda", "int8_tensor"), .n_params = 1, .params = {P_BLOCK},
                        .check = check_cuda_w4a8, .workspace = qk_cuda_w4a8_work, .run = qk_cuda_w4a8,
                        .defaults = defaults_cuda_w4a8},
    [QK_K_BF16_GENERIC] = FLOAT_ROW(QK_BF16, "bf16.generic", "generic", 0, &float_generic, 16, P_THREADS),
    [QK_K_BF16_AVX512] = FLOAT_ROW(QK_BF16, "bf16.avx512", "avx512", AVX512, &float_avx512, 64, FLOAT512_PARAMS),
    /* large M: vdpbf16ps on the packed k-pairs as they are (no decode) */
    [QK_K_BF16_AVX512BF16] = FLOAT_ROW(QK_BF16, "bf16.avx512bf16", "avx512bf16", AVX512 | (1u << QH_AVX512_BF16),
                                       &float_bf16dot, 64, FLOAT512_PARAMS),
    /* NVIDIA's bf16 tensor cores run at their fp16 rate: the same roof */
    [QK_K_BF16_CUBLASLT] = CUDA_LT(QK_BF16, "bf16.cublaslt", "fp16_tensor"),
    /* the AVX-512 kernels, and a third path at large M: the weights decoded to bf16 k-pairs
     * for vdpbf16ps (by a VBMI table look-up), with bf16 activations (w8a16) or e4m3 ones (fp8) */
    [QK_K_W8A16_AVX512BF16] = FLOAT_ROW(QK_W8A16, "w8a16.avx512bf16", "avx512bf16", AVX512_PAIRS,
                                        &float_avx512_dot, 64, FLOAT512_DOT_PARAMS),
    [QK_K_FP8_AVX512BF16] = FLOAT_ROW(QK_FP8, "fp8.avx512bf16", "avx512bf16", AVX512_PAIRS,
                                      &float_avx512_dot, 64, FLOAT512_DOT_PARAMS),
#ifdef QBENCH_HAVE_ONEDNN
    /* a provider: oneDNN's u8 × s8 matmul (brgemm); weights reordered offline, activations
     * quantized per token by qbench's own routine inside the call */
    [QK_K_W8A8_ONEDNN] = {.name = "w8a8.onednn", .scheme = QK_W8A8, .isa = "onednn", .needs = QK_NEEDS_ONEDNN | AVX2,
                          .packing = {QK_LAYOUT_ONEDNN, 0}, .format = "int8_dot", .n_params = 1,
                          .params = {P_THREADS}, .check = check_onednn, .workspace = qk_onednn_work,
                          .run = qk_onednn_w8a8, .defaults = defaults_threads},
    /* oneDNN's bf16 matmul on qbench's bf16 weights, reordered offline; X as it comes */
    [QK_K_BF16_ONEDNN] = {.name = "bf16.onednn", .scheme = QK_BF16, .isa = "onednn", .needs = QK_NEEDS_ONEDNN | AVX2,
                          .packing = {QK_LAYOUT_ONEDNN, 0}, .format = "bf16_dot", .n_params = 1,
                          .params = {P_THREADS}, .check = check_onednn, .workspace = qk_onednn_work,
                          .run = qk_onednn_bf16, .defaults = defaults_threads},
#endif
};

int qk_kernel_count(void) { return QK_KERNEL_COUNT; }
const qk_kernel *qk_kernel_get(int i) { return i >= 0 && i < QK_KERNEL_COUNT ? &table[i] : NULL; }

const qk_kernel *qk_kernel_find(const char *name)
{
    for (int i = 0; i < QK_KERNEL_COUNT; i++)
        if (!strcmp(table[i].name, name))
            return &table[i];
    return NULL;
}

static uint32_t cpu_features(void)
{
    static int done;
    static uint32_t features;
    if (!done) {
        qh_cpu c;
        qh_cpu_identify(&c);
        features = c.features;
        done = 1;
    }
    return features;
}

float (*qk_int8_quantizer(void))(const uint16_t *x, int k, int bf16, int8_t *q)
{
    const uint32_t avx512 = (1u << QH_AVX512F) | (1u << QH_AVX512BW) | (1u << QH_AVX512VL) | (1u << QH_F16C);
    return (cpu_features() & avx512) == avx512 ? qk_quantize_row_int8_avx512 : qk_quantize_row_int8;
}

static int cuda_here(void)
{
    static int known, here;
    if (!known) {
        char why[256];
        here = qk_cuda_available(why, sizeof why);
        known = 1;
    }
    return here;
}

int qk_kernel_is_cuda(const qk_kernel *k) { return (k->needs & QK_NEEDS_CUDA) != 0; }

int qk_kernel_is_provider(const qk_kernel *k)
{
    return (k->needs & QK_NEEDS_ONEDNN) || k->run == qk_cuda_lt;
}

int qk_cuda_available_here(char *why, size_t len) { return qk_cuda_available(why, len); }

static int onednn_here(char *why, size_t len)
{
#ifdef QBENCH_HAVE_ONEDNN
    return qk_onednn_available(why, len);
#else
    snprintf(why, len, "qbench was built without oneDNN");
    return 0;
#endif
}

void qk_kernel_why_not(const qk_kernel *k, char *why, size_t len)
{
    why[0] = '\0';
    if (qk_kernel_is_cuda(k)) {
        if (!cuda_here())
            qk_cuda_available(why, len);
        return;
    }
    if ((k->needs & QK_NEEDS_ONEDNN) && !onednn_here(why, len))
        return;
    uint32_t missing = k->needs & ~QK_NEEDS_ONEDNN & ~cpu_features();
    for (int f = 0; f < QH_FEATURE_COUNT && missing; f++)
        if (missing & (1u << f)) {
            snprintf(why, len, "this CPU lacks %s", qh_feature_name((qh_feature)f));
            return;
        }
}

int qk_kernel_supported(const qk_kernel *k)
{
    char why[256];
    if (qk_kernel_is_cuda(k))
        return cuda_here();
    if ((k->needs & QK_NEEDS_ONEDNN) && !onednn_here(why, sizeof why))
        return 0;
    uint32_t cpu = k->needs & ~QK_NEEDS_ONEDNN;
    return (cpu_features() & cpu) == cpu;
}

static const qk_kernel *best_of(qk_scheme s, int cuda)
{
    /* the most specialised of qbench's own kernels this machine runs: the one needing the most
     * features (a library's kernels are measured beside them, never the default) */
    const qk_kernel *best = NULL;
    for (int i = 0; i < QK_KERNEL_COUNT; i++)
        if (table[i].scheme == s && qk_kernel_is_cuda(&table[i]) == cuda && !(table[i].needs & QK_NEEDS_ONEDNN) &&
            qk_kernel_supported(&table[i]) &&
            (!best || __builtin_popcount(table[i].needs) > __builtin_popcount(best->needs)))
            best = &table[i];
    return best;
}

const qk_kernel *qk_kernel_best(qk_scheme s) { return best_of(s, 0); }
const qk_kernel *qk_kernel_best_cuda(qk_scheme s) { return best_of(s, 1); }

const qk_kernel *qk_kernel_default(qk_scheme s, int cuda)
{
    if (!cuda)
        return qk_kernel_best(s);
    for (int i = 0; i < QK_KERNEL_COUNT; i++)
        if (table[i].scheme == s && qk_kernel_is_cuda(&table[i]))
            return &table[i];
    return NULL;
}

int qk_param_index(const qk_kernel *k, const char *name)
{
    for (int i = 0; i < k->n_params; i++)
        if (!strcmp(k->params[i].name, name))
            return i;
    return -1;
}

int qk_config_get(const qk_kernel *k, const qk_config *cfg, const char *name, int fallback)
{
    int i = qk_param_index(k, name);
    return i < 0 ? fallback : cfg->v[i];
}

void qk_config_set(const qk_kernel *k, qk_config *cfg, const char *name, int value)
{
    int i = qk_param_index(k, name);
    if (i >= 0)
        cfg->v[i] = value;
}

const char *qk_kernel_format(const qk_kernel *k, const qk_config *cfg)
{
    return k->format_of ? k->format_of(k, cfg) : k->format;
}

int qk_kernel_tile_rows(const qk_kernel *k, const qk_config *cfg)
{
    /* what the tile holds, not what a configuration fills: a pass over the weights decodes them
     * for a whole tile, however few of its rows carry X */
    if (k->run == qk_run_int)
        return ((const qk_ukr_int *)k->ukr)->mr_max;
    if (k->run != qk_run_float)
        return 1;
    const qk_ukr_float *u = k->ukr;
    const int large = !u->small || qk_config_get(k, cfg, "predequant", 0);
    return large ? u->large->mr : u->small->mr_max;
}

void qk_kernel_defaults(const qk_kernel *k, const qk_problem *p, qk_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    k->defaults(k, p, cfg);
}

int qk_kernel_check(const qk_kernel *k, const qk_problem *p, const qk_config *cfg, char *why, size_t len)
{
    return k->check(k, p, cfg, why, len);
}

size_t qk_kernel_workspace(const qk_kernel *k, const qk_problem *p, const qk_config *cfg)
{
    return k->workspace(k, p, cfg);
}

/* Once: sysconf reads /sys on every call, and the loops ask on every call of a kernel. */
static int hw_threads(void)
{
    static int n;
    if (!n) {
        long v = sysconf(_SC_NPROCESSORS_ONLN);
        n = v > 0 ? (int)v : 1;
    }
    return n;
}

qk_blocking qk_blocking_of(const qk_kernel *k, const qk_config *cfg, const qk_blocking *fallback)
{
    return (qk_blocking){
        .threads = qk_config_get(k, cfg, "threads", hw_threads()),
        .mr = qk_config_get(k, cfg, "mr", fallback->mr),
        .kc = qk_config_get(k, cfg, "kc", fallback->kc),
        .nc = qk_config_get(k, cfg, "nc", fallback->nc),
        .predequant = qk_config_get(k, cfg, "predequant", fallback->predequant),
    };
}

static const char *format_int(const qk_kernel *k, const qk_config *cfg)
{
    (void)cfg;
    return ((const qk_ukr_int *)k->ukr)->format;
}

/* ---- the CPU kernels: validity and defaults, by parameter name ---- */

/* The register-tile rows of a CPU kernel's mr parameter. */
static int mr_max(const qk_kernel *k)
{
    if (k->run == qk_run_int)
        return ((const qk_ukr_int *)k->ukr)->mr_max;
    const qk_ukr_float *u = k->ukr;
    return u->small ? u->small->mr_max : u->large->mr;
}

static int check_cpu(const qk_kernel *k, const qk_problem *p, const qk_config *cfg, char *why, size_t len)
{
    /* each parameter the kernel exposes; an absent one takes a value that passes */
    const int integer = k->run == qk_run_int, hw = hw_threads(), g = qk_problem_group(p);
    /* nc: whole panels, and whole micro-kernel widths of the large path */
    const int nr = integer || ((const qk_ukr_float *)k->ukr)->large->nr < k->packing.nr
                       ? k->packing.nr
                       : ((const qk_ukr_float *)k->ukr)->large->nr;
    const int t = qk_config_get(k, cfg, "threads", 1), mr = qk_config_get(k, cfg, "mr", 1);
    const int kc = qk_config_get(k, cfg, "kc", integer ? 8 * g : 16), nc = qk_config_get(k, cfg, "nc", nr);
    const int pd = qk_config_get(k, cfg, "predequant", 0), pd_max = !integer && ((const qk_ukr_float *)k->ukr)->dot ? 2 : 1;
    if (t < 1 || t > 4 * hw)
        snprintf(why, len, "threads=%d: use 1 .. %d (this machine has %d hardware threads)", t, 4 * hw, hw);
    else if (integer && p->k > 65536)
        snprintf(why, len, "K=%d: int32 accumulators hold at most K = 65536 products of int8 (split K)", p->k);
    else if (mr < 1 || mr > mr_max(k))
        snprintf(why, len, "mr=%d: the register tile holds 1 to %d rows", mr, mr_max(k));
    else if (!integer && (kc < 16 || kc > 4096 || kc % 16))
        snprintf(why, len, "kc=%d: use a multiple of 16 from 16 to 4096", kc);
    else if (integer && (kc < 8 || kc > 1 << 20 || kc % 8))
        snprintf(why, len, "kc=%d: use a multiple of 8", kc);
    else if (integer && p->scheme == QK_W4A8 && g < p->k && kc % g)
        snprintf(why, len, "kc=%d is not a multiple of the group size %d (a K block must hold whole groups)", kc, g);
    else if (nc < nr || nc > 1024 || nc % nr)
        snprintf(why, len, "nc=%d: use a multiple of %d from %d to 1024", nc, nr, nr);
    else if (pd < 0 || pd > pd_max)
        snprintf(why, len, "predequant=%d: use 0 or 1%s", pd, pd_max == 2 ? " or 2" : "");
    else if (pd == 2 && !qk_float_dot_exact(k->ukr, p))
        snprintf(why, len, "predequant=2 multiplies bf16 k-pairs: fp16 activations are not exact in bf16 (use 1, or "
                           "--act bf16)");
    else
        return QC_OK;
    return QC_EINPUT;
}

static void defaults_cpu(const qk_kernel *k, const qk_problem *p, qk_config *cfg)
{
    const int integer = k->run == qk_run_int;
    qk_config_set(k, cfg, "threads", hw_threads());
    qk_config_set(k, cfg, "mr", p->m < mr_max(k) ? (p->m > 0 ? p->m : 1) : mr_max(k));
    const qk_ukr_float *u = integer ? NULL : k->ukr;
    const qk_float_small *S = u ? u->small : NULL;
    int up_to = 0;
    if (S)
        up_to = qk_problem_bf16(p) && S->up_to_bf16[p->scheme] ? S->up_to_bf16[p->scheme] : S->up_to[p->scheme];
    const int large = !S || p->m > up_to, dot = u && large && qk_float_dot_exact(u, p);
    const qk_float_large *L = u ? (dot ? u->dot : u->large) : NULL;
    qk_config_set(k, cfg, "kc", integer ? qk_int_default_kc(k->ukr, p) : L->kc);
    qk_config_set(k, cfg, "nc", integer ? ((const qk_ukr_int *)k->ukr)->nc : L->nc);
    qk_config_set(k, cfg, "predequant", dot ? 2 : large);
}

/* ---- the providers' CPU kernels ---- */

#ifdef QBENCH_HAVE_ONEDNN
static int check_onednn(const qk_kernel *k, const qk_problem *p, const qk_config *cfg, char *why, size_t len)
{
    const int t = qk_config_get(k, cfg, "threads", 1), hw = hw_threads();
    if (t < 1 || t > 4 * hw)
        snprintf(why, len, "threads=%d: use 1 .. %d (this machine has %d hardware threads)", t, 4 * hw, hw);
    else if (p->scheme == QK_W8A8 && p->k > 65536)
        snprintf(why, len, "K=%d: int32 accumulators hold at most K = 65536 products of int8", p->k);
    else
        return QC_OK;
    return QC_EINPUT;
}

static void defaults_threads(const qk_kernel *k, const qk_problem *p, qk_config *cfg)
{
    (void)p;
    qk_config_set(k, cfg, "threads", hw_threads());
}
#endif

/* ---- the CUDA kernels ---- */

static int check_cuda_wonly(const qk_kernel *k, const qk_problem *p, const qk_config *cfg, char *why, size_t len)
{
    const int g = qk_problem_group(p), tile = qk_config_get(k, cfg, "tile", 0);
    const int stages = qk_config_get(k, cfg, "stages", 3), splitk = qk_config_get(k, cfg, "splitk", 1);
    if (p->k % 64 || p->n % 4)
        snprintf(why, len, "the tensor-core kernel needs K %% 64 == 0 and N %% 4 == 0 (K=%d, N=%d)", p->k, p->n);
    else if (p->scheme == QK_W4A16 && g % 16)
        snprintf(why, len, "group %d: the tensor-core kernel needs groups of a multiple of 16", g);
    else if (tile < 0 || tile > 3)
        snprintf(why, len, "tile=%d: use 0 (16x128), 1 (32x128), 2 (64x128) or 3 (128x128)", tile);
    else if (stages < 2 || stages > 4)
        snprintf(why, len, "stages=%d: use 2, 3 or 4", stages);
    else if (splitk < 1 || splitk > p->k / 64)
        snprintf(why, len, "splitk=%d: use 1 .. K/64 = %d", splitk, p->k / 64);
    else
        return QC_OK;
    return QC_EINPUT;
}

static int check_cuda_lt(const qk_kernel *k, const qk_problem *p, const qk_config *cfg, char *why, size_t len)
{
    const int algo = qk_config_get(k, cfg, "algo", 0), splitk = qk_config_get(k, cfg, "splitk", 0);
    const int swizzle = qk_config_get(k, cfg, "swizzle", 0);
    if ((p->scheme == QK_W8A8 || p->scheme == QK_FP8) && (p->k % 16 || p->n % 16))
        snprintf(why, len, "cuBLASLt's int8 and fp8 products need K and N multiples of 16 (K=%d, N=%d)", p->k, p->n);
    else if (algo < 0 || algo > 7)
        snprintf(why, len, "algo=%d: a rank 0 .. 7 in cuBLASLt's heuristic list", algo);
    else if (splitk < 0 || splitk > 64)
        snprintf(why, len, "splitk=%d: 0 (the algorithm's own) .. 64", splitk);
    else if (swizzle != 0 && swizzle != 1)
        snprintf(why, len, "swizzle=%d: use 0 or 1", swizzle);
    else
        return QC_OK; /* what cuBLASLt itself refuses is reported when the plan is made */
    return QC_EINPUT;
}

static int check_cuda_w4a8(const qk_kernel *k, const qk_problem *p, const qk_config *cfg, char *why, size_t len)
{
    (void)p;
    int b = qk_config_get(k, cfg, "block", 128);
    if (b < 32 || b > 1024 || b % 32) {
        snprintf(why, len, "block=%d: a multiple of 32 up to 1024", b);
        return QC_EINPUT;
    }
    return QC_OK;
}

static void defaults_cuda_wonly(const qk_kernel *k, const qk_problem *p, qk_config *cfg)
{
    qk_config_set(k, cfg, "tile", p->m <= 16 ? 0 : p->m <= 32 ? 1 : p->m <= 64 ? 2 : 3);
    qk_config_set(k, cfg, "stages", 3);
    /* small M leaves most SMs idle without a K split */
    qk_config_set(k, cfg, "splitk", p->m <= 32 && p->k >= 1024 ? 4 : 1);
}

static void defaults_cuda_lt(const qk_kernel *k, const qk_problem *p, qk_config *cfg)
{
    (void)k, (void)p, (void)cfg; /* all zero: cuBLASLt's first choice as it is */
}

static void defaults_cuda_w4a8(const qk_kernel *k, const qk_problem *p, qk_config *cfg)
{
    (void)p;
    qk_config_set(k, cfg, "block", 128);
}

int qk_param_values(const qk_kernel *k, int i, int *out, int max)
{
    const qk_param *pp = &k->params[i];
    int n = 0;
    if (pp->n_values == 0) { /* threads: powers of two up to the machine, and the machine */
        for (int t = 1; t < hw_threads() && n < max; t *= 2)
            out[n++] = t;
        if (n < max)
            out[n++] = hw_threads();
        return n;
    }
    for (; n < pp->n_values && n < max; n++)
        out[n] = pp->values[n];
    return n;
}

/* ---- configuration text ---- */

int qk_config_apply(const qk_kernel *k, const char *text, qk_config *cfg, qc_msgs *err)
{
    if (!text || !*text || !strcmp(text, "default"))
        return QC_OK;
    char *copy = qc_strdup(text), *save = NULL;
    int rc = QC_OK;
    for (char *item = strtok_r(copy, ",", &save); item && !rc; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        int v = 0;
        if (!eq) {
            qc_msgs_addf(err, "--config '%s': expected name=integer such as mr=4 (parameters of %s: see "
                              "'qbench kernels')", item, k->name);
            rc = QC_EINPUT;
            break;
        }
        if (qc_parse_int(eq + 1, INT_MIN, INT_MAX, "", &v, NULL)) {
            qc_msgs_addf(err, "--config '%s': the value is not a whole number from %d to %d", item, INT_MIN, INT_MAX);
            rc = QC_EINPUT;
            break;
        }
        *eq = '\0';
        int i = qk_param_index(k, item);
        if (i < 0) {
            char names[128] = "";
            for (int j = 0; j < k->n_params; j++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", j ? ", " : "",
                         k->params[j].name);
            qc_msgs_addf(err, "--config: %s has no parameter '%s' (it has: %s)", k->name, item, names);
            rc = QC_EINPUT;
            break;
        }
        cfg->v[i] = v;
    }
    free(copy);
    return rc;
}

int qk_config_parse(const qk_kernel *k, const qk_problem *p, const char *text, qk_config *cfg, qc_msgs *err)
{
    qk_kernel_defaults(k, p, cfg);
    if (qk_config_apply(k, text, cfg, err))
        return QC_EINPUT;
    char why[256];
    if (qk_kernel_check(k, p, cfg, why, sizeof why)) {
        qc_msgs_addf(err, "%s: invalid configuration: %s", k->name, why);
        return QC_EINPUT;
    }
    return QC_OK;
}

void qk_config_format(const qk_kernel *k, const qk_config *cfg, char *buf, size_t len)
{
    buf[0] = '\0';
    for (int i = 0; i < k->n_params; i++)
        snprintf(buf + strlen(buf), len - strlen(buf), "%s%s=%d", i ? "," : "", k->params[i].name, cfg->v[i]);
}

int qk_gemm(const qk_kernel *k, const qk_config *cfg, const qk_weights *w, const uint16_t *x, int m, void *y,
            void *work, qc_msgs *err)
{
    qk_problem p = w->p;
    p.m = m;
    char why[256];
    if (k->scheme != p.scheme) {
        qc_msgs_addf(err, "%s computes %s, the weights are packed for %s", k->name, qk_scheme_name(k->scheme),
                     qk_scheme_name(p.scheme));
        return QC_EINPUT;
    }
    if (qk_problem_check(&p, err))
        return QC_EINPUT;
    if (qk_kernel_is_cuda(k)) {
        qc_msgs_addf(err, "%s is a CUDA kernel: run it with qk_gemm_cuda on device buffers", k->name);
        return QC_EINPUT;
    }
    if (!qk_kernel_supported(k)) {
        qk_kernel_why_not(k, why, sizeof why);
        qc_msgs_addf(err, "%s cannot run here: %s (see 'qbench devices' and 'qbench kernels')", k->name, why);
        return QC_EINPUT;
    }
    if (!qk_weights_packed_as(w, &k->packing)) {
        qc_msgs_addf(err, "%s reads weights packed in panels of %d channels; these are not (pack them with the "
                          "kernel's packing)", k->name, k->packing.nr);
        return QC_EINPUT;
    }
    if (qk_kernel_check(k, &p, cfg, why, sizeof why)) {
        qc_msgs_addf(err, "%s: invalid configuration: %s", k->name, why);
        return QC_EINPUT;
    }
    qk_run_args a = {.kernel = k, .w = w, .x = x, .m = m, .y = y, .work = work, .cfg = cfg};
    k->run(&a);
    return QC_OK;
}

int qk_gemm_cuda(const qk_kernel *k, const qk_config *cfg, const qk_weights *w, const uint16_t *x, int m, void *y,
                 void *work, void *stream, qc_msgs *err)
{
    qk_problem p = w->p;
    p.m = m;
    char why[512];
    if (!qk_kernel_is_cuda(k) || !w->on_device) {
        qc_msgs_addf(err, "%s: qk_gemm_cuda takes a CUDA kernel and weights on the device", k->name);
        return QC_EINPUT;
    }
    if (qk_kernel_check(k, &p, cfg, why, sizeof why)) {
        qc_msgs_addf(err, "%s: invalid configuration: %s", k->name, why);
        return QC_EINPUT;
    }
    qk_run_args a = {.kernel = k, .w = w, .x = x, .m = m, .y = y, .work = work, .cfg = cfg, .stream = stream};
    k->run(&a);
    if (qk_cuda_error(why, sizeof why)) {
        qc_msgs_addf(err, "%s: %s", k->name, why);
        return QC_ERUNTIME;
    }
    return QC_OK;
}
