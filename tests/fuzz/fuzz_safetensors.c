/* libFuzzer target: the safetensors reader (header length, jansson, every entry checked against
 * the data) on any bytes. It must answer QC_OK with tensors inside the buffer or QC_EINPUT with a
 * message, never crash, leak or read outside the buffer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "models/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qc_msgs err = {0};
    qm_tensor *t = NULL;
    int n = 0;
    if (qm_safetensors_parse("fuzz.safetensors", data, size, &t, &n, &err) == QC_OK) {
        for (int i = 0; i < n; i++) { /* every tensor inside the buffer, and readable as fp32 when it is a float */
            if (t[i].data < data || t[i].data + t[i].bytes > data + size)
                abort();
            if (t[i].bytes <= 4096) {
                float out[4096 / 2];
                qm_tensor_to_f32(&t[i], out, &err);
            }
        }
    }
    qm_tensors_free(t, n);
    qc_msgs_free(&err);
    return 0;
}
