// Weight-only int4 / int8 GEMM on tensor cores: Y[M×N] = X[M×K] · dequant(W)ᵀ.
//
// Per block a BM×BN tile of Y; K is walked in BK = 64 slices through a STAGES-deep cp.async
// pipeline (A: fp16 rows of X; B: the packed words [K/8][N] or [K/4][N] of the CUDA layout).
// Each warp owns a (BM/WM)×(BN/WN) piece and issues mma.sync.m16n8k16 (fp16 × fp16 → fp32, or
// bf16 × bf16 → fp32 with bf16 activations): A fragments are read from shared memory; B
// fragments are dequantized in registers from the packed words: (q − z)·s computed in fp32
// (exact) and rounded to the activations' type, which is the operand qk_weights_dequant gives
// for this layout. A 16-bit output has the activations' type too. Split-K: blockIdx.z takes a
// share of the K slices and writes fp32 partials; a second kernel sums them.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "kernels/cuda/qk_cuda.h"
#include "kernels/cuda/x16.cuh"
#include "kernels/internal.h"

namespace {

constexpr int BK = 64;
constexpr int APAD = 8; // halves of padding per A row: 144-byte rows, fewer bank conflicts

__device__ __forceinline__ void cp_async16(void *smem, const void *gmem, bool valid) {
    unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
    int bytes = valid ? 16 : 0; // 0: zero-fill (edges)
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

template <bool BF16> __device__ __forceinline__ void mma16816(float c[4], const uint32_t a[4], const uint32_t b[2]) {
    if (BF16)
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                     "{%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    else
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                     "{%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// two values rounded to the 16-bit type, lo in the low half
template <bool BF16> __device__ __forceinline__ uint32_t pack2(float lo, float hi) {
    if (BF16) {
        __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
        return *reinterpret_cast<uint32_t *>(&h);
    }
    __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&h);
}

struct Params {
    const uint16_t *x;      // M×K, fp16 or bf16
    const uint32_t *w;      // packed words
    const __half *gscale;   // int4: [G][N]
    const uint8_t *gzero;   // int4 asymmetric: [G][N], else NULL (z = 8)
    const float *cscale;    // int8: [N]
    int m, n, k, group;
    int tiles_per_split;    // K slices per blockIdx.z
    void *y;                // output, or fp32 partials [splits][M][N]
    int out_f32, partial;
};

template <bool INT4, bool BF16, int BM, int BN, int WM, int WN, int STAGES>
__global__ void __launch_bounds__(WM *WN * 32) wonly_kernel(Params p) {
    constexpr int THREADS = WM * WN * 32;
    constexpr int WROWS = INT4 ? BK / 8 : BK / 4; // packed word-rows per K slice
    constexpr int MT = BM / WM / 16, NT = BN / WN / 8;
    extern __shared__ __align__(16) unsigned char smem[];
    uint16_t *As = reinterpret_cast<uint16_t *>(smem);                              // [STAGES][BM][BK+APAD]
    uint32_t *Bs = reinterpret_cast<uint32_t *>(As + STAGES * BM * (BK + APAD));    // [STAGES][WROWS][BN]

    const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
    const int wm = warp / WN, wn = warp % WN, g = lane / 4, t = lane % 4;
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    const int kt_total = p.k / BK;
    const int kt0 = blockIdx.z * p.tiles_per_split;
    const int kt1 = min(kt_total, kt0 + p.tiles_per_split);
    const int nkt = max(0, kt1 - kt0);

    auto load = [&](int stage, int kt) {
        const int k0 = kt * BK;
        uint16_t *a = As + stage * BM * (BK + APAD);
        for (int c = tid; c < BM * (BK / 8); c += THREADS) {
            int r = c / (BK / 8), c8 = c % (BK / 8);
            bool ok = m0 + r < p.m;
            const uint16_t *src = p.x + (size_t)(ok ? m0 + r : 0) * p.k + k0 + c8 * 8;
            cp_async16(a + r * (BK + APAD) + c8 * 8, src, ok);
        }
        uint32_t *b = Bs + stage * WROWS * BN;
        const int kw0 = INT4 ? k0 / 8 : k0 / 4;
        for (int c = tid; c < WROWS * (BN / 4); c += THREADS) {
            int r = c / (BN / 4), c4 = c % (BN / 4);
            bool ok = n0 + c4 * 4 < p.n;
            const uint32_t *src = p.w + (size_t)(kw0 + r) * p.n + (ok ? n0 + c4 * 4 : 0);
            cp_async16(b + r * BN + c4 * 4, src, ok);
        }
    };

    float acc[MT][NT][4];
#pragma unroll
    for (int i = 0; i < MT; i++)
#pragma unroll
        for (int j = 0; j < NT; j++)
#pragma unroll
            for (int e = 0; e < 4; e++)
                acc[i][j][e] = 0.f;

#pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < nkt)
            load(s, kt0 + s);
        cp_async_commit();
    }
    for (int i = 0; i < nkt; i++) {
        cp_async_wait<STAGES - 2>();
        __syncthreads();
        if (i + STAGES - 1 < nkt)
            load((i + STAGES - 1) % STAGES, kt0 + i + STAGES - 1);
        cp_async_commit();

        const int stage = i % STAGES, k0 = (kt0 + i) * BK;
        const uint16_t *a = As + stage * BM * (BK + APAD);
        const uint32_t *b = Bs + stage * WROWS * BN;
#pragma unroll
        for (int kk = 0; kk < BK; kk += 16) {
            uint32_t af[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                const uint16_t *ar = a + (wm * (BM / WM) + mt * 16 + g) * (BK + APAD) + kk + 2 * t;
                af[mt][0] = *reinterpret_cast<const uint32_t *>(ar);
                af[mt][1] = *reinterpret_cast<const uint32_t *>(ar + 8 * (BK + APAD));
                af[mt][2] = *reinterpret_cast<const uint32_t *>(ar + 8);
                af[mt][3] = *reinterpret_cast<const uint32_t *>(ar + 8 * (BK + APAD) + 8);
            }
            const int gi = (k0 + kk) / p.group; // a 16-k slice never crosses a group (group % 16 == 0)
#pragma unroll
            for (int nt = 0; nt < NT; nt++) {
                const int col = wn * (BN / WN) + nt * 8 + g, n = n0 + col;
                const int nn = n < p.n ? n : p.n - 1;
                float v[4]; // k = kk + 2t, 2t+1, 2t+8, 2t+9
                if (INT4) {
                    const uint32_t w0 = b[(kk / 8) * BN + col], w1 = b[(kk / 8 + 1) * BN + col];
                    const float s = __half2float(p.gscale[(size_t)gi * p.n + nn]);
                    const float z = p.gzero ? (float)p.gzero[(size_t)gi * p.n + nn] : 8.f;
                    v[0] = ((float)((w0 >> (8 * t)) & 15) - z) * s;
                    v[1] = ((float)((w0 >> (8 * t + 4)) & 15) - z) * s;
                    v[2] = ((float)((w1 >> (8 * t)) & 15) - z) * s;
                    v[3] = ((float)((w1 >> (8 * t + 4)) & 15) - z) * s;
                } else {
                    // int8 words hold 4 k: k = kk + 2t lies in word (kk + 2t) / 4, byte (2t) % 4
                    const int r0 = (kk + 2 * t) / 4, r1 = (kk + 8 + 2 * t) / 4, sh = 8 * ((2 * t) % 4);
                    const uint32_t w0 = b[r0 * BN + col], w1 = b[r1 * BN + col];
                    const float s = p.cscale[nn];
                    v[0] = (float)(int8_t)(w0 >> sh) * s;
                    v[1] = (float)(int8_t)(w0 >> (sh + 8)) * s;
                    v[2] = (float)(int8_t)(w1 >> sh) * s;
                    v[3] = (float)(int8_t)(w1 >> (sh + 8)) * s;
                }
                const uint32_t bf[2] = {pack2<BF16>(v[0], v[1]), pack2<BF16>(v[2], v[3])};
#pragma unroll
                for (int mt = 0; mt < MT; mt++)
                    mma16816<BF16>(acc[mt][nt], af[mt], bf);
            }
        }
    }
    cp_async_wait<0>();

    // epilogue: c0,c1 at (row g, cols 2t, 2t+1); c2,c3 at (row g+8, same cols)
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int nt = 0; nt < NT; nt++)
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int row = m0 + wm * (BM / WM) + mt * 16 + g + 8 * h;
                const int col = n0 + wn * (BN / WN) + nt * 8 + 2 * t;
                if (row >= p.m)
                    continue;
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    if (col + e >= p.n)
                        continue;
                    const float val = acc[mt][nt][2 * h + e];
                    const size_t at = (size_t)row * p.n + col + e;
                    if (p.partial)
                        reinterpret_cast<float *>(p.y)[(size_t)blockIdx.z * p.m * p.n + at] = val;
                    else if (p.out_f32)
                        reinterpret_cast<float *>(p.y)[at] = val;
                    else
                        qk_x16_store(p.y, at, val, BF16);
                }
            }
}

__global__ void splitk_reduce(const float *part, int splits, size_t count, void *y, int out_f32, int bf16) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count; i += (size_t)gridDim.x * blockDim.x) {
        float s = 0;
        for (int z = 0; z < splits; z++)
            s += part[(size_t)z * count + i];
        if (out_f32)
            reinterpret_cast<float *>(y)[i] = s;
        else
            qk_x16_store(y, i, s, bf16);
    }
}

template <bool INT4, bool BF16, int BM, int BN, int WM, int WN, int STAGES>
void launch(const Params &p, int splits, cudaStream_t st) {
    constexpr int WROWS = INT4 ? BK / 8 : BK / 4;
    const size_t smem = (size_t)STAGES * BM * (BK + APAD) * sizeof(uint16_t) + (size_t)STAGES * WROWS * BN * 4;
    auto kern = wonly_kernel<INT4, BF16, BM, BN, WM, WN, STAGES>;
    cudaError_t e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess) {
        qk_cuda_set_error("cudaFuncSetAttribute (%zu bytes of shared memory): %s", smem, cudaGetErrorString(e));
        return;
    }
    dim3 grid((p.n + BN - 1) / BN, (p.m + BM - 1) / BM, splits);
    kern<<<grid, WM * WN * 32, smem, st>>>(p);
    if ((e = cudaGetLastError()) != cudaSuccess)
        qk_cuda_set_error("weight-only kernel launch: %s", cudaGetErrorString(e));
}

template <bool INT4, bool BF16, int STAGES> void by_tile(int tile, const Params &p, int splits, cudaStream_t st) {
    switch (tile) {
    case 0: launch<INT4, BF16, 16, 128, 1, 4, STAGES>(p, splits, st); break;
    case 1: launch<INT4, BF16, 32, 128, 1, 4, STAGES>(p, splits, st); break;
    case 2: launch<INT4, BF16, 64, 128, 2, 4, STAGES>(p, splits, st); break;
    default: launch<INT4, BF16, 128, 128, 4, 2, STAGES>(p, splits, st); break;
    }
}

template <bool INT4, bool BF16> void by_stages(int stages, int tile, const Params &p, int splits, cudaStream_t st) {
    switch (stages) {
    case 2: by_tile<INT4, BF16, 2>(tile, p, splits, st); break;
    case 3: by_tile<INT4, BF16, 3>(tile, p, splits, st); break;
    default: by_tile<INT4, BF16, 4>(tile, p, splits, st); break;
    }
}

} // namespace

extern "C" size_t qk_cuda_wonly_work(const qk_kernel *k, const qk_problem *p, const qk_config *cfg) {
    int splits = qk_config_get(k, cfg, "splitk", 1);
    return splits > 1 ? (size_t)splits * p->m * p->n * sizeof(float) : 0;
}

extern "C" void qk_cuda_wonly(const qk_run_args *a) {
    const qk_weights *w = a->w;
    const qk_problem *q = &w->p;
    const int int4 = q->scheme == QK_W4A16;
    const int tile = qk_config_get(a->kernel, a->cfg, "tile", 0), stages = qk_config_get(a->kernel, a->cfg, "stages", 3);
    int splits = qk_config_get(a->kernel, a->cfg, "splitk", 1);
    const int kt = q->k / BK;
    splits = splits < 1 ? 1 : splits > kt ? kt : splits;
    Params p = {};
    p.x = reinterpret_cast<const uint16_t *>(a->x);
    p.w = reinterpret_cast<const uint32_t *>(w->q);
    p.gscale = reinterpret_cast<const __half *>(w->gscale);
    p.gzero = w->gzero;
    p.cscale = w->cscale;
    p.m = a->m;
    p.n = q->n;
    p.k = q->k;
    p.group = int4 ? qk_problem_group(q) : q->k;
    p.tiles_per_split = (kt + splits - 1) / splits;
    p.out_f32 = q->out_f32;
    p.partial = splits > 1;
    p.y = splits > 1 ? a->work : a->y;
    cudaStream_t st = static_cast<cudaStream_t>(a->stream);
    const int bf16 = qk_problem_bf16(q);
    if (int4)
        bf16 ? by_stages<true, true>(stages, tile, p, splits, st) : by_stages<true, false>(stages, tile, p, splits, st);
    else
        bf16 ? by_stages<false, true>(stages, tile, p, splits, st) : by_stages<false, false>(stages, tile, p, splits, st);
    if (splits > 1) {
        size_t count = (size_t)p.m * p.n;
        splitk_reduce<<<(unsigned)((count + 255) / 256 < 4096 ? (count + 255) / 256 : 4096), 256, 0, st>>>(
            reinterpret_cast<const float *>(a->work), splits, count, a->y, q->out_f32, bf16);
        cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess)
            qk_cuda_set_error("split-K reduction launch: %s", cudaGetErrorString(e));
    }
}
