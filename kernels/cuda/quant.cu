// The CUDA backend's support: availability, error state, weight upload; activation
// quantization (per-token int8, per-tensor e4m3) inside the timed region; the scaling
// epilogue; and the w4a8 kernel (dp4a on CUDA cores: cuBLASLt has no int4 × int8 path).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kernels/cuda/qk_cuda.h"
#include "kernels/cuda/x16.cuh"
#include "kernels/e4m3.h"
#include "kernels/internal.h"

static thread_local char last_error[512];

extern "C" void qk_cuda_set_error(const char *fmt, ...) {
    if (last_error[0])
        return; // the first failure is the one to report
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
}

extern "C" int qk_cuda_error(char *buf, size_t len) {
    int had = last_error[0] != 0;
    snprintf(buf, len, "%s", last_error);
    last_error[0] = '\0';
    return had;
}

extern "C" int qk_cuda_available(char *why, size_t len) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        snprintf(why, len, "no CUDA device: %s", e == cudaSuccess ? "none found" : cudaGetErrorString(e));
        return 0;
    }
    return 1;
}

static int up(void **dst, const void *src, size_t bytes, qc_msgs *err) {
    *dst = NULL;
    if (!src)
        return QC_OK;
    cudaError_t e = cudaMalloc(dst, bytes ? bytes : 1);
    if (e == cudaSuccess)
        e = cudaMemcpy(*dst, src, bytes, cudaMemcpyHostToDevice);
    if (e != cudaSuccess) {
        qc_msgs_addf(err, "uploading %zu bytes of weights: %s", bytes, cudaGetErrorString(e));
        return QC_ERUNTIME;
    }
    return QC_OK;
}

extern "C" int qk_cuda_upload(const qk_weights *h, qk_weights *d, qc_msgs *err) {
    *d = *h;
    d->on_device = 1;
    d->q = d->gscale = NULL;
    d->gzero = NULL;
    d->cscale = NULL;
    d->csum = NULL;
    d->tscale_dev = NULL;
    const size_t gs = (size_t)qk_groups(&h->p) * h->p.n, n = (size_t)h->p.n;
    int rc = up(&d->q, h->q, h->q_bytes, err);
    if (!rc)
        rc = up(reinterpret_cast<void **>(&d->gscale), h->gscale, gs * 2, err);
    if (!rc)
        rc = up(reinterpret_cast<void **>(&d->gzero), h->gzero, gs, err);
    if (!rc)
        rc = up(reinterpret_cast<void **>(&d->cscale), h->cscale, n * 4, err);
    if (!rc)
        rc = up(reinterpret_cast<void **>(&d->csum), h->csum, n * 4, err);
    if (!rc && h->p.scheme == QK_FP8 && !h->cscale)
        rc = up(reinterpret_cast<void **>(&d->tscale_dev), &h->tscale, 4, err);
    if (rc)
        qk_cuda_weights_free(d);
    return rc;
}

extern "C" void qk_cuda_weights_free(qk_weights *d) {
    cudaFree(d->q);
    cudaFree(d->gscale);
    cudaFree(d->gzero);
    cudaFree(d->cscale);
    cudaFree(d->csum);
    cudaFree(d->tscale_dev);
    memset(d, 0, sizeof *d);
}

static bool launched(const char *what) {
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) {
        qk_cuda_set_error("%s launch: %s", what, cudaGetErrorString(e));
        return false;
    }
    return true;
}

// ---------------------------------------------------------------- activations

// One block per row: absmax, then q = rne(x · fl(127/absmax)) (the CPU's definition), and the
// per-group sums of q for zero-point corrections.
template <typename T>
__global__ void quantize_rows(const T *x, int k, int group, int8_t *q, float *scale, int32_t *gsum) {
    const int row = blockIdx.x;
    const T *xr = x + (size_t)row * k;
    __shared__ float red[32];
    float amax = 0;
    for (int i = threadIdx.x; i < k; i += blockDim.x)
        amax = fmaxf(amax, fabsf(qk_x16_in(xr[i])));
    for (int o = 16; o; o >>= 1)
        amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
    if (threadIdx.x % 32 == 0)
        red[threadIdx.x / 32] = amax;
    __syncthreads();
    if (threadIdx.x < 32) {
        amax = threadIdx.x < blockDim.x / 32 ? red[threadIdx.x] : 0;
        for (int o = 16; o; o >>= 1)
            amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
        if (threadIdx.x == 0)
            red[0] = amax;
    }
    __syncthreads();
    amax = red[0];
    const float inv = amax > 0 ? 127.0f / amax : 0.0f;
    if (threadIdx.x == 0)
        scale[row] = amax / 127.0f;
    for (int i = threadIdx.x; i < k; i += blockDim.x)
        q[(size_t)row * k + i] = (int8_t)__float2int_rn(qk_x16_in(xr[i]) * inv);
    __syncthreads();
    const int groups = k / group;
    for (int gi = threadIdx.x; gi < groups; gi += blockDim.x) {
        int s = 0;
        for (int i = 0; i < group; i++)
            s += q[(size_t)row * k + gi * group + i];
        gsum[(size_t)row * groups + gi] = s;
    }
}

extern "C" void qk_cuda_quantize_rows(const uint16_t *x, int bf16, int m, int k, int group, int8_t *q, float *scale,
                                      int32_t *gsum, void *stream) {
    cudaStream_t st = static_cast<cudaStream_t>(stream);
    if (bf16)
        quantize_rows<<<m, 256, 0, st>>>(reinterpret_cast<const __nv_bfloat16 *>(x), k, group, q, scale, gsum);
    else
        quantize_rows<<<m, 256, 0, st>>>(reinterpret_cast<const __half *>(x), k, group, q, scale, gsum);
    launched("per-token quantization");
}

template <typename T> __global__ void amax_kernel(const T *x, size_t count, float *amax) {
    float a = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count; i += (size_t)gridDim.x * blockDim.x)
        a = fmaxf(a, fabsf(qk_x16_in(x[i])));
    for (int o = 16; o; o >>= 1)
        a = fmaxf(a, __shfl_xor_sync(0xffffffffu, a, o));
    if (threadIdx.x % 32 == 0) // non-negative floats order like their bits
        atomicMax(reinterpret_cast<int *>(amax), __float_as_int(a));
}

template <typename T> __global__ void fp8_kernel(const T *x, size_t count, const float *amax, uint8_t *q, float *scale) {
    const float a = *amax, inv = a > 0 ? 448.0f / a : 0.0f;
    if (blockIdx.x == 0 && threadIdx.x == 0)
        *scale = a / 448.0f;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count; i += (size_t)gridDim.x * blockDim.x)
        q[i] = qk_e4m3_encode(qk_x16_in(x[i]) * inv);
}

template <typename T> static void quantize_fp8(const T *x, size_t count, uint8_t *q, float *amax, float *scale,
                                               cudaStream_t st) {
    unsigned blocks = (unsigned)((count + 255) / 256 < 1024 ? (count + 255) / 256 : 1024);
    cudaError_t e = cudaMemsetAsync(amax, 0, sizeof(float), st);
    if (e != cudaSuccess) {
        qk_cuda_set_error("cudaMemsetAsync: %s", cudaGetErrorString(e));
        return;
    }
    amax_kernel<<<blocks, 256, 0, st>>>(x, count, amax);
    if (!launched("fp8 amax"))
        return;
    fp8_kernel<<<blocks, 256, 0, st>>>(x, count, amax, q, scale);
    launched("fp8 quantization");
}

extern "C" void qk_cuda_quantize_fp8(const uint16_t *x, int bf16, size_t count, uint8_t *q, float *amax, float *scale,
                                     void *stream) {
    cudaStream_t st = static_cast<cudaStream_t>(stream);
    if (bf16)
        quantize_fp8(reinterpret_cast<const __nv_bfloat16 *>(x), count, q, amax, scale, st);
    else
        quantize_fp8(reinterpret_cast<const __half *>(x), count, q, amax, scale, st);
}

// ---------------------------------------------------------------- epilogue

__global__ void epilogue(const void *acc, int acc_int, const float *rs, const float *cs, float scalar, int m, int n,
                         void *y, int out_f32, int bf16) {
    const size_t count = (size_t)m * n;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count; i += (size_t)gridDim.x * blockDim.x) {
        const int r = (int)(i / n), c = (int)(i % n);
        float v = acc_int ? (float)reinterpret_cast<const int32_t *>(acc)[i] : reinterpret_cast<const float *>(acc)[i];
        v *= scalar * (rs ? rs[r] : 1.f) * (cs ? cs[c] : 1.f);
        if (out_f32)
            reinterpret_cast<float *>(y)[i] = v;
        else
            qk_x16_store(y, i, v, bf16);
    }
}

extern "C" void qk_cuda_epilogue(const void *acc, int acc_int, const float *row_scale, const float *col_scale,
                                 float scalar, int m, int n, void *y, int out_f32, int bf16, void *stream) {
    size_t count = (size_t)m * n;
    unsigned blocks = (unsigned)((count + 255) / 256 < 4096 ? (count + 255) / 256 : 4096);
    epilogue<<<blocks, 256, 0, static_cast<cudaStream_t>(stream)>>>(acc, acc_int, row_scale, col_scale, scalar, m, n,
                                                                    y, out_f32, bf16);
    launched("epilogue");
}

// ---------------------------------------------------------------- w4a8 (dp4a)

// One thread per output (row, channel): the channel's words [K/8][N] are read along N by the
// warp (coalesced), the row's int8 activations are broadcast. Per group: Σ q·x through dp4a,
// then y += s·(acc − z·Σx); y · s_row at the end, stored in the activations' 16-bit type.
__global__ void w4a8_kernel(const uint32_t *w, const __half *gscale, const uint8_t *gzero, const int8_t *xq,
                            const float *xs, const int32_t *gsum, int m, int n, int k, int group, void *y, int out_f32,
                            int bf16) {
    const int col = blockIdx.x * blockDim.x + threadIdx.x, row = blockIdx.y;
    if (col >= n || row >= m)
        return;
    const int groups = k / group;
    const int8_t *x = xq + (size_t)row * k;
    float acc = 0;
    for (int gi = 0; gi < groups; gi++) {
        int dot = 0;
        for (int k8 = gi * group / 8; k8 < (gi + 1) * group / 8; k8++) {
            const uint32_t word = w[(size_t)k8 * n + col];
            // nibbles 0..7 → two words of four unsigned bytes
            const uint32_t lo = (word & 0xf) | ((word >> 4 & 0xf) << 8) | ((word >> 8 & 0xf) << 16) | ((word >> 12 & 0xf) << 24);
            const uint32_t hi = (word >> 16 & 0xf) | ((word >> 20 & 0xf) << 8) | ((word >> 24 & 0xf) << 16) | ((word >> 28) << 24);
            const int xa = *reinterpret_cast<const int *>(x + k8 * 8), xb = *reinterpret_cast<const int *>(x + k8 * 8 + 4);
            dot = __dp4a((int)lo, xa, dot);
            dot = __dp4a((int)hi, xb, dot);
        }
        const float s = __half2float(gscale[(size_t)gi * n + col]);
        const float z = gzero ? (float)gzero[(size_t)gi * n + col] : 8.f;
        acc += s * ((float)dot - z * (float)gsum[(size_t)row * groups + gi]);
    }
    const float v = acc * xs[row];
    if (out_f32)
        reinterpret_cast<float *>(y)[(size_t)row * n + col] = v;
    else
        qk_x16_store(y, (size_t)row * n + col, v, bf16);
}

extern "C" size_t qk_cuda_w4a8_work(const qk_kernel *k, const qk_problem *p, const qk_config *cfg) {
    (void)k, (void)cfg;
    const size_t g = (size_t)p->k / qk_problem_group(p);
    return qk_align64((size_t)p->m * p->k) + qk_align64((size_t)p->m * 4) + qk_align64((size_t)p->m * g * 4);
}

extern "C" void qk_cuda_w4a8(const qk_run_args *a) {
    const qk_weights *w = a->w;
    const qk_problem *p = &w->p;
    const int group = qk_problem_group(p), groups = p->k / group;
    int8_t *xq = static_cast<int8_t *>(a->work);
    float *xs = reinterpret_cast<float *>(static_cast<char *>(a->work) + qk_align64((size_t)a->m * p->k));
    int32_t *gsum = reinterpret_cast<int32_t *>(reinterpret_cast<char *>(xs) + qk_align64((size_t)a->m * 4));
    (void)groups;
    qk_cuda_quantize_rows(a->x, qk_problem_bf16(p), a->m, p->k, group, xq, xs, gsum, a->stream);
    const int block = qk_config_get(a->kernel, a->cfg, "block", 128);
    dim3 grid((p->n + block - 1) / block, a->m);
    w4a8_kernel<<<grid, block, 0, static_cast<cudaStream_t>(a->stream)>>>(
        reinterpret_cast<const uint32_t *>(w->q), reinterpret_cast<const __half *>(w->gscale), w->gzero, xq, xs, gsum,
        a->m, p->n, p->k, group, a->y, p->out_f32, qk_problem_bf16(p));
    launched("w4a8 kernel");
}
