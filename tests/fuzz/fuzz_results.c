/* libFuzzer target: the results reader (jansson, field validation, meaning checks) on any
 * bytes. It must answer QC_OK with points or QC_EINPUT with a message, never crash, leak or
 * hang; what it accepts it can write back. */
#include <stddef.h>
#include <stdint.h>

#include "bench/results.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qc_msgs err = {0};
    qb_results r;
    if (qb_results_parse((const char *)data, size, "fuzz.json", &r, &err) == QC_OK) {
        for (int i = 0; i < r.n; i++)
            qb_results_find(&r, r.v[i].name);
        qb_results_write(&r, "/dev/null", &err);
        qb_results_free(&r);
    }
    qc_msgs_free(&err);
    return 0;
}
