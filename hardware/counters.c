/* PAPI counters. Each requested event is added on its own so that one missing event
 * does not take the others with it; the reason for each failure is kept. */
#include <papi.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hardware/counters.h"

typedef struct slot {
    qh_counter pub;
    int code;
    char *name;
    char *reason;
} slot;

struct qh_counters {
    int n;
    slot *s;
    int eventset;    /* PAPI_NULL when no event could be added */
    int n_added;
    int *order;      /* slot index of each added event, in event-set order */
    long long *vals;
    int running;
};

static pthread_once_t papi_once = PTHREAD_ONCE_INIT;
static int papi_status;          /* PAPI_VER_CURRENT on success */
static char papi_backend[256];

static void papi_init(void)
{
    papi_status = PAPI_library_init(PAPI_VER_CURRENT);
    if (papi_status == PAPI_VER_CURRENT)
        snprintf(papi_backend, sizeof papi_backend, "PAPI %d.%d.%d", PAPI_VERSION_MAJOR(papi_status),
                 PAPI_VERSION_MINOR(papi_status), PAPI_VERSION_REVISION(papi_status));
    else
        snprintf(papi_backend, sizeof papi_backend, "PAPI could not start: %s",
                 papi_status > 0 ? "library version mismatch" : PAPI_strerror(papi_status));
}

const char *qh_counters_backend(void)
{
    pthread_once(&papi_once, papi_init);
    return papi_backend;
}

static void set_unavailable(slot *s, const char *what, int rc)
{
    char buf[1024];
    const char *comp = "";
    char compbuf[400] = "";
    if (s->code) {
        int cidx = PAPI_get_event_component(s->code);
        const PAPI_component_info_t *ci = cidx >= 0 ? PAPI_get_component_info(cidx) : NULL;
        if (ci && ci->disabled) {
            snprintf(compbuf, sizeof compbuf, "; component %s is disabled: %.160s", ci->name, ci->disabled_reason);
            comp = compbuf;
        }
    }
    const PAPI_hw_info_t *hw = PAPI_get_hardware_info();
    const char *vm = rc == PAPI_ENOEVNT && hw && hw->virtualized ? "; PAPI reports a virtual machine (" : "";
    snprintf(buf, sizeof buf, "%s: %s (PAPI error %d)%s%s%s%s", what, PAPI_strerror(rc), rc, comp, vm,
             *vm ? hw->virtual_vendor_string : "", *vm ? "), which exposes no such counter" : "");
    free(s->reason);
    s->reason = qc_strdup(buf);
    s->pub.available = 0;
    s->pub.reason = s->reason;
}

int qh_counters_create(qh_counters **out, const char *const *events, int n, qc_msgs *err)
{
    *out = NULL;
    if (n <= 0 || !events) {
        qc_msgs_addf(err, "counters: no events requested (name at least one PAPI event)");
        return QC_EINPUT;
    }
    pthread_once(&papi_once, papi_init);
    qh_counters *c = qc_xcalloc(1, sizeof *c);
    c->n = n;
    c->s = qc_xcalloc((size_t)n, sizeof *c->s);
    c->order = qc_xcalloc((size_t)n, sizeof *c->order);
    c->vals = qc_xcalloc((size_t)n, sizeof *c->vals);
    c->eventset = PAPI_NULL;
    for (int i = 0; i < n; i++) {
        c->s[i].name = qc_strdup(events[i] ? events[i] : "");
        c->s[i].pub.name = c->s[i].name;
    }
    if (papi_status != PAPI_VER_CURRENT) {
        for (int i = 0; i < n; i++) {
            c->s[i].reason = qc_strdup(papi_backend);
            c->s[i].pub.reason = c->s[i].reason;
        }
        *out = c;
        return QC_OK;
    }
    int rc = PAPI_create_eventset(&c->eventset);
    for (int i = 0; i < n; i++) {
        slot *s = &c->s[i];
        if (rc != PAPI_OK) {
            set_unavailable(s, "PAPI_create_eventset", rc);
            continue;
        }
        int r = PAPI_event_name_to_code(s->name, &s->code);
        if (r != PAPI_OK) {
            s->code = 0;
            set_unavailable(s, "unknown event name", r);
            continue;
        }
        r = PAPI_add_event(c->eventset, s->code);
        if (r != PAPI_OK) {
            set_unavailable(s, "cannot count on this machine", r);
            continue;
        }
        s->pub.available = 1;
        c->order[c->n_added++] = i;
    }
    *out = c;
    return QC_OK;
}

int qh_counters_start(qh_counters *c)
{
    if (!c || c->n_added == 0 || c->running)
        return QC_OK;
    int r = PAPI_start(c->eventset);
    if (r != PAPI_OK) {
        for (int k = 0; k < c->n_added; k++)
            set_unavailable(&c->s[c->order[k]], "PAPI_start failed", r);
        c->n_added = 0;
        return QC_OK;
    }
    c->running = 1;
    return QC_OK;
}

int qh_counters_stop(qh_counters *c)
{
    if (!c || !c->running)
        return QC_OK;
    c->running = 0;
    int r = PAPI_stop(c->eventset, c->vals);
    for (int k = 0; k < c->n_added; k++) {
        slot *s = &c->s[c->order[k]];
        if (r != PAPI_OK)
            set_unavailable(s, "PAPI_stop failed", r);
        else
            s->pub.value = c->vals[k];
    }
    return QC_OK;
}

int qh_counters_count(const qh_counters *c) { return c ? c->n : 0; }

const qh_counter *qh_counters_get(const qh_counters *c, int i)
{
    return c && i >= 0 && i < c->n ? &c->s[i].pub : NULL;
}

void qh_counters_destroy(qh_counters *c)
{
    if (!c)
        return;
    if (c->running) {
        PAPI_stop(c->eventset, c->vals);
    }
    if (c->eventset != PAPI_NULL) {
        PAPI_cleanup_eventset(c->eventset);
        PAPI_destroy_eventset(&c->eventset);
    }
    for (int i = 0; i < c->n; i++) {
        free(c->s[i].name);
        free(c->s[i].reason);
    }
    free(c->s);
    free(c->order);
    free(c->vals);
    free(c);
}

const char *const qh_cpu_events[] = {"perf::TASK-CLOCK", "PAPI_TOT_CYC", "PAPI_TOT_INS",
                                     "PAPI_L1_DCM",      "PAPI_L2_DCM",  "PAPI_L3_TCM"};
const int qh_n_cpu_events = sizeof qh_cpu_events / sizeof qh_cpu_events[0];
