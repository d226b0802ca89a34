// GPU ceilings: copy bandwidth, L2 bandwidth, tensor peaks. Each call checks its CUDA status.
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <string.h>

#include "hardware/cuda_ceilings.h"

#define CK(call)                                                                                                  \
    do {                                                                                                          \
        cudaError_t e_ = (call);                                                                                  \
        if (e_ != cudaSuccess) {                                                                                  \
            qc_msgs_addf(err, "%s: %s", #call, cudaGetErrorString(e_));                                          \
            rc = QC_ERUNTIME;                                                                                     \
            goto done;                                                                                            \
        }                                                                                                         \
    } while (0)

// The timing loop: events around `body`, repeated for min_time (at least 5 times); `work` is
// the bytes or operations of one repetition.
template <typename F> static int timed(double min_time, double work, qh_rate *out, qc_msgs *err, F body) {
    int rc = QC_OK, reps = 0;
    double rates[QH_MAX_REPS], start = qc_now();
    cudaEvent_t e0 = nullptr, e1 = nullptr;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    if ((rc = body()))
        goto done; // warm-up
    CK(cudaDeviceSynchronize());
    while (reps < QH_MAX_REPS && (reps < 5 || qc_now() - start < min_time)) {
        float ms;
        CK(cudaEventRecord(e0));
        if ((rc = body()))
            goto done;
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        CK(cudaEventElapsedTime(&ms, e0, e1));
        rates[reps++] = work / (ms * 1e-3) / 1e9;
    }
    {
        double sorted[QH_MAX_REPS];
        memcpy(sorted, rates, sizeof(double) * reps);
        memcpy(out->rate, rates, sizeof(double) * reps);
        qc_summary s = qc_summarize(sorted, reps);
        out->best = s.max;
        out->median = s.median;
        out->cv = s.cv;
        out->reps = reps;
    }
done:
    if (e0)
        cudaEventDestroy(e0);
    if (e1)
        cudaEventDestroy(e1);
    return rc;
}

extern "C" int qh_cuda_copy_bandwidth(int device, size_t bytes, double min_time, qh_rate *out, qc_msgs *err) {
    int rc = QC_OK;
    void *a = nullptr, *b = nullptr;
    CK(cudaSetDevice(device));
    CK(cudaMalloc(&a, bytes));
    CK(cudaMalloc(&b, bytes));
    CK(cudaMemset(a, 0x5a, bytes)); // not zeros
    rc = timed(min_time, 2.0 * bytes, out, err, [&]() -> int {
        cudaError_t e = cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice);
        if (e != cudaSuccess)
            qc_msgs_addf(err, "cudaMemcpyAsync: %s", cudaGetErrorString(e));
        return e == cudaSuccess ? QC_OK : QC_ERUNTIME;
    });
done:
    cudaFree(a);
    cudaFree(b);
    return rc;
}

__global__ void l2_read(const float4 *p, size_t n, int passes, float *sink) {
    float4 acc = make_float4(0, 0, 0, 0);
    for (int r = 0; r < passes; r++)
        for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
            float4 v = __ldcg(p + i); // cache in L2, not L1
            acc.x += v.x;
            acc.y += v.y;
            acc.z += v.z;
            acc.w += v.w;
        }
    if (acc.x + acc.y + acc.z + acc.w == 12345.f) // never, but the compiler cannot know
        *sink = acc.x;
}

extern "C" size_t qh_cuda_l2_size(int device) {
    int l2 = 0;
    return cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, device) == cudaSuccess && l2 > 0 ? (size_t)l2 : 0;
}

extern "C" int qh_cuda_read_bandwidth(int device, size_t bytes, double min_time, qh_rate *out, qc_msgs *err) {
    int rc = QC_OK, sms = 0;
    float4 *p = nullptr;
    float *sink = nullptr;
    const size_t n = bytes / sizeof(float4);
    const int passes = bytes >= ((size_t)1 << 30) ? 1 : (int)(((size_t)1 << 30) / bytes);
    CK(cudaSetDevice(device));
    CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    CK(cudaMalloc(&p, n * sizeof(float4)));
    CK(cudaMalloc(&sink, sizeof(float)));
    CK(cudaMemset(p, 0x3c, n * sizeof(float4))); // 0x3c3c3c3c: 0.0115 as floats, not zeros
    rc = timed(min_time, (double)n * sizeof(float4) * passes, out, err, [&]() -> int {
        l2_read<<<sms * 4, 512>>>(p, n, passes, sink);
        cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess)
            qc_msgs_addf(err, "read kernel: %s", cudaGetErrorString(e));
        return e == cudaSuccess ? QC_OK : QC_ERUNTIME;
    });
done:
    cudaFree(p);
    cudaFree(sink);
    return rc;
}

extern "C" int qh_cuda_tensor_peak(int device, const char *format, int size, double min_time, qh_rate *out,
                                   qc_msgs *err) {
    int rc = QC_OK;
    cudaDataType_t ab, c;
    cublasComputeType_t compute;
    cudaDataType_t scale;
    size_t elem;
    if (!strcmp(format, "fp16_tensor")) {
        ab = CUDA_R_16F, c = CUDA_R_16F, compute = CUBLAS_COMPUTE_32F, scale = CUDA_R_32F, elem = 2;
    } else if (!strcmp(format, "int8_tensor")) {
        ab = CUDA_R_8I, c = CUDA_R_32I, compute = CUBLAS_COMPUTE_32I, scale = CUDA_R_32I, elem = 1;
    } else if (!strcmp(format, "fp8_tensor")) {
        ab = CUDA_R_8F_E4M3, c = CUDA_R_16F, compute = CUBLAS_COMPUTE_32F, scale = CUDA_R_32F, elem = 1;
    } else {
        qc_msgs_addf(err, "tensor peak: unknown format '%s'", format);
        return QC_EINPUT;
    }
    cublasLtHandle_t h = nullptr;
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
    cublasLtMatmulPreference_t pref = nullptr;
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    void *a = nullptr, *b = nullptr, *d = nullptr, *ws = nullptr;
    const size_t wsb = (size_t)64 << 20, n = (size_t)size;
    const float one = 1, zero = 0;
    const int32_t ione = 1, izero = 0;
    const bool integer = compute == CUBLAS_COMPUTE_32I;
    cublasOperation_t tr = CUBLAS_OP_T, nt = CUBLAS_OP_N;
    CK(cudaSetDevice(device));
    CK(cudaMalloc(&a, n * n * elem));
    CK(cudaMalloc(&b, n * n * elem));
    CK(cudaMalloc(&d, n * n * 4));
    CK(cudaMalloc(&ws, wsb));
    CK(cudaMemset(a, 0x31, n * n * elem)); // small non-zero values in every format
    CK(cudaMemset(b, 0x31, n * n * elem));
    if (cublasLtCreate(&h) != CUBLAS_STATUS_SUCCESS || cublasLtMatmulDescCreate(&op, compute, scale) ||
        cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &tr, sizeof tr) ||
        cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &nt, sizeof nt) ||
        cublasLtMatrixLayoutCreate(&la, ab, n, n, n) || cublasLtMatrixLayoutCreate(&lb, ab, n, n, n) ||
        cublasLtMatrixLayoutCreate(&lc, c, n, n, n) || cublasLtMatmulPreferenceCreate(&pref) ||
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsb, sizeof wsb) ||
        cublasLtMatmulAlgoGetHeuristic(h, op, la, lb, lc, lc, pref, 1, &res, &found) || found < 1) {
        qc_msgs_addf(err, "tensor peak %s: cuBLASLt has no algorithm for a %d^3 product here", format, size);
        rc = QC_EINPUT;
        goto done;
    }
    rc = timed(min_time, 2.0 * n * n * n, out, err, [&]() -> int {
        cublasStatus_t s = cublasLtMatmul(h, op, integer ? (const void *)&ione : (const void *)&one, a, la, b, lb,
                                          integer ? (const void *)&izero : (const void *)&zero, d, lc, d, lc, &res.algo,
                                          ws, wsb, 0);
        if (s != CUBLAS_STATUS_SUCCESS)
            qc_msgs_addf(err, "cublasLtMatmul (%s): status %d", format, (int)s);
        return s == CUBLAS_STATUS_SUCCESS ? QC_OK : QC_ERUNTIME;
    });
done:
    if (pref)
        cublasLtMatmulPreferenceDestroy(pref);
    if (la)
        cublasLtMatrixLayoutDestroy(la);
    if (lb)
        cublasLtMatrixLayoutDestroy(lb);
    if (lc)
        cublasLtMatrixLayoutDestroy(lc);
    if (op)
        cublasLtMatmulDescDestroy(op);
    if (h)
        cublasLtDestroy(h);
    cudaFree(a);
    cudaFree(b);
    cudaFree(d);
    cudaFree(ws);
    return rc;
}
