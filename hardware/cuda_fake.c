/* A fake list of CUDA devices, for testing what runs one worker per GPU on a machine without one:
 * QBENCH_FAKE_CUDA_DEVICES="NAME@MAJOR.MINOR;NAME@MAJOR.MINOR;...", filtered by
 * CUDA_VISIBLE_DEVICES as the CUDA runtime filters real devices (a list of indices, up to the
 * first that is not one). Such devices can only be predicted (--predict): there is nothing to run
 * on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardware/hardware.h"

int qh_cuda_fake(qh_cuda *out)
{
    const char *list = getenv("QBENCH_FAKE_CUDA_DEVICES");
    if (!list)
        return 0;
    qh_cuda all;
    memset(&all, 0, sizeof all);
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *e = strtok_r(buf, ";", &save); e && all.n < QH_MAX_CUDA_DEVICES; e = strtok_r(NULL, ";", &save)) {
        char *at = strrchr(e, '@');
        qh_cuda_device *d = &all.dev[all.n];
        if (!at || sscanf(at + 1, "%d.%d", &d->cc_major, &d->cc_minor) != 2)
            continue;
        snprintf(d->name, sizeof d->name, "%.*s", (int)(at - e), e);
        all.n++;
    }
    memset(out, 0, sizeof *out);
    out->built = 1;
    const char *vis = getenv("CUDA_VISIBLE_DEVICES");
    if (!vis) {
        *out = all;
    } else {
        snprintf(buf, sizeof buf, "%s", vis);
        save = NULL;
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            char *end;
            long i = strtol(t, &end, 10);
            if (end == t || *end || i < 0 || i >= all.n || out->n == QH_MAX_CUDA_DEVICES)
                break;
            out->dev[out->n++] = all.dev[i];
        }
    }
    for (int i = 0; i < out->n; i++)
        out->dev[i].index = i;
    if (!out->n)
        snprintf(out->reason, sizeof out->reason, "no CUDA device: QBENCH_FAKE_CUDA_DEVICES lists none visible");
    return 1;
}
