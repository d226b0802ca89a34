/* libFuzzer target: the profile reader (libyaml, schema validation) on any bytes. It must
 * answer QC_OK with a profile or QC_EINPUT with messages, never crash, leak or hang. */
#include <stddef.h>
#include <stdint.h>

#include "profiles/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qc_msgs err = {0};
    qp_profile *p = NULL;
    int rc = qp_profile_parse((const char *)data, size, "fuzz.yaml", &p, &err);
    if (rc == QC_OK) {
        FILE *f = fopen("/dev/null", "w"); /* what was read can be written again */
        qp_profile_emit(p, f, &err);
        fclose(f);
    }
    qp_profile_free(p);
    qc_msgs_free(&err);
    return 0;
}
