/* kernels/: quantized GEMM kernels, their quantizers and packers, the fp64 references, the
 * cost function, and the kernel registry. Y[M×N] = X[M×K] · W[N×K]ᵀ; M = tokens.
 *
 * Kernels never time anything or print. Every fallible call returns a status from
 * common/qc.h and explains itself in a qc_msgs list.
 *
 * ---- packed weight layouts (CPU kernels, QK_LAYOUT_CPU) ----
 * Each kernel declares its packing (qk_kernel.packing): the layout and, on the CPU, the panel
 * width NR, the number of output channels its micro-kernels consume at once (16 for the generic
 * and AVX2 kernels, 64 for the AVX-512 ones, 32 for w4a8's VNNI kernel). N is cut into panels of
 * NR channels (the last panel is padded with zero
 * weights); each panel is stored contiguously, K-major inside. Within a panel, for each k (or
 * group of k), the NR channels n0..n0+NR-1 of that panel:
 *
 *   fp16   uint16 fp16 bits   [K][NR]
 *   bf16   uint16 bf16 bits   [K2][NR][2]  K2 = ceil(K/2): k-pairs of one channel in one 32-bit
 *                                          word (low half the even k; zero-padded), as vdpbf16ps
 *                                          reads them
 *   w8a16  int8               [K][NR]                 + float scale per channel
 *   w4a16  uint8              [K/8][NR][4]  as w4a8 below (one int4 layout for both)
 *   fp8    uint8 E4M3FN bits  [K][NR]                 + float scale per tensor or per channel
 *   w8a8   int8               [K4][NR][4]  K4 = ceil(K/4): 4 consecutive k of one channel
 *                                          in one 32-bit word (zero-padded)
 *                                                      + float scale per channel
 *   w4a8   uint8              [K/8][NR][4]  channel n's 32-bit word holds 8 consecutive k:
 *                                          byte b = q[n,k_b] | q[n,k_{b+4}] << 4 (q in 0..15)
 *                                                      + fp16 scale and uint8 zero per (group, channel)
 * Per-(group, channel) scales and zeros are stored [panel][G][NR], per-channel scales [panel·NR].
 *
 * ---- packed weight layouts (CUDA kernels, QK_LAYOUT_CUDA; kernels/cuda/) ----
 * Coalesced along N: a warp's 32 lanes read 32 neighbouring output channels.
 *   fp16   uint16 fp16 bits   [N][K]                   (cuBLASLt: A of a TN product)
 *   bf16   uint16 bf16 bits   [N][K]                   (cuBLASLt, the same)
 *   w8a8   int8               [N][K]  + float scale per channel (cuBLASLt IMMA, TN)
 *   fp8    uint8 E4M3FN bits  [N][K]  + float scale per tensor or per channel
 *   w8a16  uint32             [K/4][N]  word = q[n,4j..4j+3], byte b = q[n,4j+b]
 *                                        + float scale per channel
 *   w4a16  uint32             [K/8][N]  word = q[n,8j..8j+7], nibble b = q[n,8j+b] (q in 0..15)
 *   w4a8                                 + fp16 scale and uint8 zero per (group, channel), [K/g][N]
 *
 * ---- oneDNN's layout (QK_LAYOUT_ONEDNN; kernels/onednn/) ----
 *   w8a8   int8, reordered by oneDNN into what its matmul wants (opaque)
 *                                        + float scale and Σ_k q[n,k] per channel [N]
 * The GPU weight-only kernels dequantize to fp16 for the tensor cores, so their dequantized
 * operand is fp16((q − z)·s) (qk_weights_dequant gives exactly that for this layout).
 *
 * Weight values dequantize as w = (q − z) · s (int4: q in 0..15, symmetric means z = 8;
 * int8: z = 0, q in −127..127), fp8 as e4m3(q) · s, fp16 and bf16 as themselves. Activations come
 * in as fp16 (bf16 for the bf16 scheme, and for the quantized schemes when act_bf16), and the
 * a16 schemes multiply them as they are; int8 per token for w8a8/w4a8, quantized inside the kernel call:
 * s_m = fl(absmax/127) and q = rne(fl(x · r)) with r = fl(127/absmax), the float nearest
 * 127/absmax (an fp32 multiplication, as every kernel and qk_quantize_row_int8 do; at an exact
 * tie it may differ by one quantum from rounding x·127/absmax itself); e4m3 per tensor for fp8,
 * also inside the call: s = fl(absmax/448), values e4m3(x · fl(448/absmax)). Accumulation is
 * fp32 (float schemes) or int32 (integer schemes). */
#ifndef QBENCH_KERNELS_QK_H
#define QBENCH_KERNELS_QK_H

#include <stddef.h>
#include <stdint.h>

#include "common/qc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum qk_scheme { QK_FP16, QK_W8A16, QK_W4A16, QK_W8A8, QK_W4A8, QK_FP8, QK_BF16, QK_SCHEME_COUNT } qk_scheme;

const char *qk_scheme_name(qk_scheme s);
int qk_scheme_parse(const char *name, qk_scheme *out); /* QC_OK or QC_EINPUT */
int qk_scheme_grouped(qk_scheme s);                   /* w4a16, w4a8 */
/* "fp16, w8a16, w4a16, w8a8, w4a8, fp8, bf16": for messages */
const char *qk_scheme_list(void);

/* What to multiply. group: the int4 group size along K (32, 64, 128, ... or -1 for one
 * group per channel); ignored by schemes that are not grouped. */
typedef struct qk_problem {
    qk_scheme scheme;
    int m, n, k;
    int group;
    int asym;        /* int4 schemes: per-group zero points (else symmetric, z = 8) */
    int out_f32;     /* output fp32 instead of 16-bit (fp16, or bf16: qk_problem_bf16) */
    int fp8_channel; /* fp8: per-channel weight scales (else one per tensor) */
    int act_bf16;    /* the quantized schemes: X (and a 16-bit Y) are bf16 instead of fp16; the
                      * baselines fix their own: fp16 is fp16 × fp16, bf16 is bf16 × bf16 */
} qk_problem;

/* Are X and a 16-bit Y bf16 (else fp16)? The bf16 scheme always, fp16 never, the others when
 * act_bf16 says so. */
int qk_problem_bf16(const qk_problem *p);
/* "bf16" or "fp16": the 16-bit type of X */
const char *qk_problem_act_name(const qk_problem *p);
/* "f32", "f16" or "bf16": the type of Y */
const char *qk_problem_out_name(const qk_problem *p);

/* Is the problem well formed? QC_EINPUT with a reason when not (sizes, K % group, ...). */
int qk_problem_check(const qk_problem *p, qc_msgs *err);
/* The group size in effect: K for per-channel. */
int qk_problem_group(const qk_problem *p);

/* ---- the one cost function ----
 * Bytes moved and operations done by one call: packed weights with their scales and zeros,
 * activations in, output out; 2·M·N·K operations. The sweep, the roofline, the tuner and the
 * emitted dispatch tables all take bytes and FLOPs from here.
 *
 * The terms depend on the scheme and its flags (asym, out_f32, fp8_channel) only, so that
 * cost = nk·N·K + ngroup·N·(K/g) + n·N + tensor + mk·M·K + mn·M·N bytes and mnk·M·N·K
 * operations, with g the group in effect. */
typedef struct qk_cost_terms {
    double nk;     /* bytes per weight */
    double ngroup; /* bytes per (channel, group): group scales and zeros */
    double n;      /* bytes per channel: per-channel scales */
    double tensor; /* bytes per call: a per-tensor scale */
    double mk;     /* bytes per activation */
    double mn;     /* bytes per output */
    double mnk;    /* operations per multiply-add (2) */
} qk_cost_terms;
qk_cost_terms qk_cost_terms_of(const qk_problem *p);

typedef struct qk_cost {
    double weight_bytes, act_bytes, out_bytes, bytes, flops;
} qk_cost;
qk_cost qk_problem_cost(const qk_problem *p);

/* ---- packed weights ---- */
/* CPU panels; CUDA's; oneDNN's own (reordered by oneDNN for its matmul, opaque to qbench) */
typedef enum qk_layout { QK_LAYOUT_CPU, QK_LAYOUT_CUDA, QK_LAYOUT_ONEDNN } qk_layout;

/* How a kernel wants its weights: the layout, and on the CPU the panel width. */
typedef struct qk_packing {
    qk_layout layout;
    int nr; /* CPU: output channels per panel; 0 for the CUDA layout */
} qk_packing;

typedef struct qk_weights {
    qk_problem p;        /* m is not used */
    qk_layout layout;
    int nr;              /* CPU: the panel width */
    int on_device;       /* the buffers are CUDA device memory (qk_cuda_upload) */
    int panels;          /* ceil(N / nr) */
    void *q;             /* packed values, panel-major; 64-byte aligned */
    size_t q_bytes;
    uint16_t *gscale;    /* grouped schemes: fp16 [panels][groups][nr] */
    uint8_t *gzero;      /* grouped schemes: [panels][groups][nr] */
    float *cscale;       /* per-channel scale [panels*nr] (w8a16, w8a8, fp8 per channel) */
    float tscale;        /* fp8 per tensor */
    int32_t *csum;       /* w8a8: Σ_k q[n,k] per channel [panels*nr] */
    float *tscale_dev;   /* on a device: fp8's per-tensor scale, in device memory */
    size_t bytes;        /* the weight bytes the cost function counts (qk_problem_cost): what a
                          * kernel reads, less the padding of the last panel and of w8a8's K */
} qk_weights;

/* Quantize W (N×K fp32, row-major) and pack it as `pk` says. QC_EINPUT when the problem is
 * malformed. */
int qk_weights_pack(const qk_packing *pk, const qk_problem *p, const float *w, qk_weights *out, qc_msgs *err);
/* The values the kernel computes with, as fp32 (N×K): the "dequantized operand". */
void qk_weights_dequant(const qk_weights *w, float *out);
/* A deep copy (for rotating among copies without quantizing again). */
int qk_weights_copy(const qk_weights *w, qk_weights *out, qc_msgs *err);
void qk_weights_free(qk_weights *w);
/* Are these weights packed as `pk` says? */
int qk_weights_packed_as(const qk_weights *w, const qk_packing *pk);

/* ---- activations as the kernel sees them (the same arithmetic the kernels use) ---- */
/* X (M×K fp16 or bf16 bits, qk_problem_bf16) → the values the scheme multiplies with, as fp32 (M×K). */
void qk_activations_dequant(const qk_problem *p, const uint16_t *x, float *out);

/* ---- number formats ---- */
float qk_half_to_float(uint16_t h);
uint16_t qk_float_to_half(float f); /* round to nearest even; overflow to ±inf */
float qk_e4m3_to_float(uint8_t b);
uint8_t qk_float_to_e4m3(float f);  /* E4M3FN, round to nearest even, saturate to ±448; NaN → 0x7F */
float qk_bf16_to_float(uint16_t b);  /* exact */
uint16_t qk_float_to_bf16(float f);  /* round to nearest even; NaN stays NaN (quiet) */
/* A 16-bit value of X or Y as fp32, and back: bf16 when `bf16`, else fp16. */
float qk_x16_to_float(int bf16, uint16_t v);
uint16_t qk_float_to_x16(int bf16, float f);
/* int8 per token: the shared definition (q = rne(x · fl(127/absmax)), see above); x has k
 * entries of fp16 (or bf16 when `bf16`), returns the scale s = fl(absmax/127) (x ≈ q·s). */
float qk_quantize_row_int8(const uint16_t *x, int k, int bf16, int8_t *q);

/* ---- references (fp64) ---- */
/* Y = X · Wᵀ in fp64, X (M×K) and W (N×K) fp32. */
void qk_reference_gemm(int m, int n, int k, const float *x, const float *w, double *y);
/* Relative Frobenius error ‖y − ref‖ / ‖ref‖ of an output (16-bit or fp32) over `rows`
 * rows and `cols` columns: ref[i][j] belongs to y[rows_at[i]][cols_at[j]] (rows_at NULL: the
 * first `rows` rows; cols_at NULL: every column, cols = N). */
double qk_relative_error(const qk_problem *p, const void *y, const double *ref, int rows, const int *rows_at,
                         int cols, const int *cols_at);
/* The largest kernel error (against the fp64 reference on the dequantized operands) a
 * correct kernel may show: accumulation order and the output's own rounding. */
double qk_error_limit(const qk_problem *p);

/* SmoothQuant, applied offline: s_k = max|X_k|^α / max|W_k|^(1−α); X ← X/s (as fp16, or bf16 when
 * `bf16`), W ← W·s, so X·Wᵀ is unchanged while activation outliers move into the weights. */
void qk_smooth(int m, int n, int k, float alpha, int bf16, uint16_t *x16, float *w);

/* ---- LLM-like random data (never zeros) ---- */
/* Weights: heavy-tailed (99% N(0, 0.02²), 1% N(0, 0.06²)), N×K. */
void qk_fill_weights(float *w, size_t count, uint64_t seed);
/* Activations: heavy-tailed (98% N(0,1), 2% N(0,4²)), with ~0.1% of channels (at least one) at 20–100× the typical
 * magnitude, M×K, returned as fp16 bits (bf16 when `bf16`) and as fp32 of those same values. */
void qk_fill_activations(uint16_t *x16, float *x32, int m, int k, int bf16, uint64_t seed);

/* ---- the registry ----
 * One table (kernels/registry.c), one row per kernel: its scheme, instruction set, packing, the
 * number format its inner loop computes in (its compute roof), its named parameters, and how
 * to check, size and run it. CPU rows name a blocked loop (kernels/cpu/) and the micro-kernels
 * it drives (kernels/cpu/ generic, kernels/x86/ SIMD); a faster micro-kernel is a struct and a
 * row. Parameters are read and written by name. */
enum { QK_MAX_PARAMS = 6 };

typedef struct qk_param {
    const char *name;
    const char *help;
    int n_values;
    int values[8]; /* the space the autotuner sweeps; "threads" is filled from the machine */
} qk_param;

/* A configuration: one value per parameter of its kernel (see qk_config_get/set). */
typedef struct qk_config {
    int v[QK_MAX_PARAMS];
} qk_config;

typedef struct qk_kernel qk_kernel;

typedef struct qk_run_args {
    const qk_kernel *kernel;
    const qk_weights *w;
    const uint16_t *x;  /* M×K fp16 or bf16 (qk_problem_bf16) */
    int m;
    void *y;            /* M×N fp16, bf16 (qk_problem_bf16) or fp32 */
    void *work;         /* qk_kernel_workspace bytes, 64-byte aligned */
    const qk_config *cfg;
    void *stream;       /* CUDA kernels: the cudaStream_t; w, x, y and work are device memory */
} qk_run_args;

struct qk_kernel {
    const char *name;     /* "w4a16.avx2" */
    qk_scheme scheme;
    const char *isa;      /* "generic", "avx2", "cuda", ... */
    uint32_t needs;       /* CPU features (bits of qh_feature), or QK_NEEDS_CUDA */
    qk_packing packing;
    /* The number format its inner loop computes in, named as profiles name their peaks
     * ("fp32_fma", "bf16_dot", "int8_dot", "fp16_tensor", "int8_tensor", "fp8_tensor"):
     * the compute roof it meets. format_of, when set, answers for a configuration (a CPU
     * kernel whose configuration chooses between two inner loops). */
    const char *format;
    const char *(*format_of)(const qk_kernel *k, const qk_config *cfg);
    int n_params;
    qk_param params[QK_MAX_PARAMS];
    /* 0 when cfg can run p; else QC_EINPUT with why */
    int (*check)(const qk_kernel *k, const qk_problem *p, const qk_config *cfg, char *why, size_t len);
    size_t (*workspace)(const qk_kernel *k, const qk_problem *p, const qk_config *cfg);
    void (*run)(const qk_run_args *a);
    void (*defaults)(const qk_kernel *k, const qk_problem *p, qk_config *cfg);
    const void *ukr;      /* CPU loops: the micro-kernels they drive (kernels/internal.h) */
};

/* `needs` bits: a CUDA device must be present; oneDNN must load. */
#define QK_NEEDS_CUDA (1u << 31)
#define QK_NEEDS_ONEDNN (1u << 30)

int qk_kernel_count(void);
const qk_kernel *qk_kernel_get(int i);
const qk_kernel *qk_kernel_find(const char *name);
/* Can this machine run it (CPU features; CUDA kernels: a device)? */
int qk_kernel_supported(const qk_kernel *k);
int qk_kernel_is_cuda(const qk_kernel *k);
/* The kernel a backend runs for a scheme by default: on the CPU the most specialised one this
 * CPU runs; on CUDA the registry's CUDA row (present here or not: for predictions). */
const qk_kernel *qk_kernel_default(qk_scheme s, int cuda);
/* The fastest CPU kernel for a scheme here (SIMD when the CPU has it, else generic). */
const qk_kernel *qk_kernel_best(qk_scheme s);
/* The CUDA kernel for a scheme when a CUDA device is here, else NULL. */
const qk_kernel *qk_kernel_best_cuda(qk_scheme s);
/* Can CUDA kernels run here? When not, *why says why (built without CUDA, no driver, no device). */
int qk_cuda_available_here(char *why, size_t len);
/* Why a kernel cannot run here ("" when it can): CPU features, no CUDA device, no oneDNN. */
void qk_kernel_why_not(const qk_kernel *k, char *why, size_t len);
/* Is it a library's kernel (a provider: oneDNN, cuBLASLt) rather than qbench's own? */
int qk_kernel_is_provider(const qk_kernel *k);

/* The number format (compute roof) of a kernel in a configuration. */
const char *qk_kernel_format(const qk_kernel *k, const qk_config *cfg);
/* The rows of X the register tile of the loop a configuration runs can hold (1 when it has no
 * such tile, or it is a library's or a GPU's): M fills ⌈M/rows⌉ tiles. */
int qk_kernel_tile_rows(const qk_kernel *k, const qk_config *cfg);
/* The kernel's defaults for p; its check of a configuration; the workspace it needs. */
void qk_kernel_defaults(const qk_kernel *k, const qk_problem *p, qk_config *cfg);
int qk_kernel_check(const qk_kernel *k, const qk_problem *p, const qk_config *cfg, char *why, size_t len);
size_t qk_kernel_workspace(const qk_kernel *k, const qk_problem *p, const qk_config *cfg);

/* Parameters by name: the index (−1 when the kernel has none of that name), the value (or
 * `fallback` when it has none), and setting it (ignored when it has none). */
int qk_param_index(const qk_kernel *k, const char *name);
int qk_config_get(const qk_kernel *k, const qk_config *cfg, const char *name, int fallback);
void qk_config_set(const qk_kernel *k, qk_config *cfg, const char *name, int value);
/* The values the autotuner sweeps for parameter i (threads: from this machine). */
int qk_param_values(const qk_kernel *k, int i, int *out, int max);

/* Sets the parameters "name=value,name=value" names (no defaults, no check); QC_EINPUT with a
 * reason on a bad name or value. */
int qk_config_apply(const qk_kernel *k, const char *text, qk_config *cfg, qc_msgs *err);
/* Fill defaults, then apply the text. QC_EINPUT with a reason on a bad name or value, or on a
 * configuration that check() rejects. */
int qk_config_parse(const qk_kernel *k, const qk_problem *p, const char *text, qk_config *cfg, qc_msgs *err);
/* "mr=4,kc=256,threads=2" */
void qk_config_format(const qk_kernel *k, const qk_config *cfg, char *buf, size_t len);

/* Check the configuration and run. The workspace must hold qk_kernel_workspace bytes. */
int qk_gemm(const qk_kernel *k, const qk_config *cfg, const qk_weights *w, const uint16_t *x, int m, void *y,
            void *work, qc_msgs *err);

/* The same for a CUDA kernel: weights uploaded (qk_cuda_upload), x, y and work in device memory,
 * launched on `stream` (a cudaStream_t) without waiting for it. */
int qk_gemm_cuda(const qk_kernel *k, const qk_config *cfg, const qk_weights *w, const uint16_t *x, int m, void *y,
                 void *work, void *stream, qc_msgs *err);

/* Copies host weights (QK_LAYOUT_CUDA) to the device; free with qk_cuda_weights_free. */
int qk_cuda_upload(const qk_weights *host, qk_weights *dev, qc_msgs *err);
void qk_cuda_weights_free(qk_weights *dev);

#ifdef __cplusplus
}
#endif

#endif
