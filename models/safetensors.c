/* The safetensors format (https://huggingface.co/docs/safetensors): 8 bytes of little-endian
 * header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, optional
 * "__metadata__": {string: string}}, then the data; offsets are relative to the data's start.
 * Everything a header says is checked against the file before a tensor is read. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/qk.h"
#include "models/model.h"

static const struct {
    const char *name;
    int size;
} dtypes[QM_DTYPE_COUNT] = {
    [QM_BOOL] = {"BOOL", 1},       [QM_U8] = {"U8", 1},   [QM_I8] = {"I8", 1},   [QM_F8_E4M3] = {"F8_E4M3", 1},
    [QM_F8_E5M2] = {"F8_E5M2", 1}, [QM_I16] = {"I16", 2}, [QM_U16] = {"U16", 2}, [QM_F16] = {"F16", 2},
    [QM_BF16] = {"BF16", 2},       [QM_I32] = {"I32", 4}, [QM_U32] = {"U32", 4}, [QM_F32] = {"F32", 4},
    [QM_I64] = {"I64", 8},         [QM_U64] = {"U64", 8}, [QM_F64] = {"F64", 8},
};

const char *qm_dtype_name(qm_dtype d) { return (unsigned)d < QM_DTYPE_COUNT ? dtypes[d].name : "?"; }
int qm_dtype_size(qm_dtype d) { return (unsigned)d < QM_DTYPE_COUNT ? dtypes[d].size : 0; }

void qm_tensors_free(qm_tensor *v, int n)
{
    for (int i = 0; v && i < n; i++)
        free(v[i].name);
    free(v);
}

typedef struct span {
    uint64_t begin, end;
    int i;
} span;

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : x->end < y->end ? -1 : x->end > y->end;
}

/* A JSON number that is a non-negative integer below 2^63. */
static int uint_of(const json_t *j, uint64_t *out)
{
    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return 0;
    *out = (uint64_t)json_integer_value(j);
    return 1;
}

/* One entry of the header into *t; 0 with *why when it is malformed. */
static int entry(const char *name, json_t *e, const uint8_t *data, uint64_t dsize, qm_tensor *t, span *sp,
                 char *why, size_t len)
{
    if (!json_is_object(e)) {
        snprintf(why, len, "its entry is not an object");
        return 0;
    }
    const char *dt = json_string_value(json_object_get(e, "dtype"));
    json_t *shape = json_object_get(e, "shape"), *off = json_object_get(e, "data_offsets");
    if (!dt || !json_is_array(shape) || !json_is_array(off)) {
        snprintf(why, len, "its entry needs \"dtype\" (a string), \"shape\" and \"data_offsets\" (arrays)");
        return 0;
    }
    int d = 0;
    while (d < QM_DTYPE_COUNT && strcmp(dtypes[d].name, dt))
        d++;
    if (d == QM_DTYPE_COUNT) {
        snprintf(why, len, "unknown dtype '%.32s' (safetensors dtypes: BOOL, U8, I8, F8_E4M3, F8_E5M2, I16, U16, "
                 "F16, BF16, I32, U32, F32, I64, U64, F64)", dt);
        return 0;
    }
    t->dtype = (qm_dtype)d;
    if (json_array_size(shape) > QM_MAX_DIMS) {
        snprintf(why, len, "%zu dimensions (at most %d)", json_array_size(shape), QM_MAX_DIMS);
        return 0;
    }
    t->ndim = (int)json_array_size(shape);
    uint64_t elems = 1;
    for (int i = 0; i < t->ndim; i++) {
        uint64_t v;
        if (!uint_of(json_array_get(shape, (size_t)i), &v) || v > (1ull << 40)) {
            snprintf(why, len, "shape[%d] is not a dimension (a non-negative integer)", i);
            return 0;
        }
        t->shape[i] = (int64_t)v;
        if (v && elems > (UINT64_MAX / 8) / v) {
            snprintf(why, len, "its shape has more elements than any file can hold");
            return 0;
        }
        elems *= v;
    }
    uint64_t b, en;
    if (json_array_size(off) != 2 || !uint_of(json_array_get(off, 0), &b) || !uint_of(json_array_get(off, 1), &en)) {
        snprintf(why, len, "data_offsets must be [begin, end], two non-negative integers");
        return 0;
    }
    if (b > en || en > dsize) {
        snprintf(why, len, "data_offsets [%llu, %llu] %s (the data is %llu bytes: truncated file?)",
                 (unsigned long long)b, (unsigned long long)en, b > en ? "run backwards" : "end past the data",
                 (unsigned long long)dsize);
        return 0;
    }
    if (en - b != elems * (uint64_t)dtypes[d].size) {
        snprintf(why, len, "data_offsets [%llu, %llu] hold %llu bytes but %llu %s elements need %llu",
                 (unsigned long long)b, (unsigned long long)en, (unsigned long long)(en - b),
                 (unsigned long long)elems, dt, (unsigned long long)(elems * (uint64_t)dtypes[d].size));
        return 0;
    }
    t->name = qc_strdup(name);
    t->data = data + b;
    t->bytes = (size_t)(en - b);
    sp->begin = b;
    sp->end = en;
    return 1;
}

int qm_safetensors_parse(const char *what, const uint8_t *buf, size_t size, qm_tensor **out, int *n, qc_msgs *err)
{
    *out = NULL;
    *n = 0;
    if (size < 8) {
        qc_msgs_addf(err, "%s: %zu bytes, shorter than the 8-byte header length (a truncated safetensors file?)",
                     what, size);
        return QC_EINPUT;
    }
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = hl << 8 | buf[i];
    if (hl > QM_HEADER_MAX) {
        qc_msgs_addf(err, "%s: header length %llu is over the format's 100 MB limit (a corrupt file?)", what,
                     (unsigned long long)hl);
        return QC_EINPUT;
    }
    if (hl > size - 8) {
        qc_msgs_addf(err, "%s: header length %llu runs past the end of the file (%zu bytes): a truncated file?", what,
                     (unsigned long long)hl, size);
        return QC_EINPUT;
    }
    json_error_t je;
    json_t *h = json_loadb((const char *)buf + 8, (size_t)hl, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(h)) {
        if (h)
            qc_msgs_addf(err, "%s: the header is not a JSON object", what);
        else
            qc_msgs_addf(err, "%s: header byte %d: %s (the header must be UTF-8 JSON; names too)", what,
                         je.position + 8, je.text);
        json_decref(h);
        return QC_EINPUT;
    }
    const uint8_t *data = buf + 8 + hl;
    const uint64_t dsize = size - 8 - hl;
    qm_tensor *v = qc_xcalloc(json_object_size(h) + 1, sizeof *v);
    span *sp = qc_xcalloc(json_object_size(h) + 1, sizeof *sp);
    int count = 0, rc = QC_OK;
    const char *name;
    json_t *e;
    json_object_foreach(h, name, e)
    {
        if (!strcmp(name, "__metadata__")) {
            if (!json_is_object(e)) {
                qc_msgs_addf(err, "%s: \"__metadata__\" must be an object of strings", what);
                rc = QC_EINPUT;
                break;
            }
            continue;
        }
        char why[320];
        if (strlen(name) > QM_NAME_MAX) {
            qc_msgs_addf(err, "%s: a tensor name of %zu bytes (at most %d): '%.40s...'", what, strlen(name),
                         QM_NAME_MAX, name);
            rc = QC_EINPUT;
            break;
        }
        if (!entry(name, e, data, dsize, &v[count], &sp[count], why, sizeof why)) {
            qc_msgs_addf(err, "%s: tensor '%s': %s", what, name, why);
            rc = QC_EINPUT;
            break;
        }
        v[count].file = what;
        sp[count].i = count;
        count++;
    }
    if (!rc) {
        qsort(sp, (size_t)count, sizeof *sp, cmp_span);
        int far = -1; /* the tensor reaching furthest so far (empty ones overlap nothing) */
        for (int i = 0; i < count && !rc; i++) {
            if (sp[i].end == sp[i].begin)
                continue;
            if (far >= 0 && sp[i].begin < sp[far].end) {
                qc_msgs_addf(err, "%s: tensors '%s' [%llu, %llu] and '%s' [%llu, %llu] overlap", what,
                             v[sp[far].i].name, (unsigned long long)sp[far].begin, (unsigned long long)sp[far].end,
                             v[sp[i].i].name, (unsigned long long)sp[i].begin, (unsigned long long)sp[i].end);
                rc = QC_EINPUT;
            }
            if (far < 0 || sp[i].end > sp[far].end)
                far = i;
        }
    }
    free(sp);
    json_decref(h);
    if (rc) {
        qm_tensors_free(v, count);
        return rc;
    }
    *out = v;
    *n = count;
    return QC_OK;
}

static float bf16_to_float(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

int qm_tensor_to_f32(const qm_tensor *t, float *out, qc_msgs *err)
{
    size_t n = t->bytes / (size_t)qm_dtype_size(t->dtype);
    const uint8_t *d = t->data;
    switch (t->dtype) {
    case QM_F32: memcpy(out, d, n * 4); return QC_OK;
    case QM_F16:
    case QM_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h = (uint16_t)(d[2 * i] | d[2 * i + 1] << 8);
            out[i] = t->dtype == QM_F16 ? qk_half_to_float(h) : bf16_to_float(h);
        }
        return QC_OK;
    default:
        qc_msgs_addf(err, "%s: tensor '%s' is %s; qbench reads weights and activations in F32, F16 or BF16", t->file,
                     t->name, qm_dtype_name(t->dtype));
        return QC_EINPUT;
    }
}
