/* A Hugging Face-layout model directory: config.json → the linear layers of a decoder block;
 * the safetensors files → their weights (mapped, checked, converted to fp32 on demand). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/model.h"

/* ------------------------------------------------------------------ config.json */

/* A positive integer key; 0 when absent; −1 (with a note in bad) when present but not one. */
static int int_key(json_t *c, const char *key, char *bad, size_t len)
{
    json_t *v = json_object_get(c, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > (1 << 24)) {
        snprintf(bad + strlen(bad), len - strlen(bad), "%s%s (not a positive integer)", *bad ? ", " : "", key);
        return -1;
    }
    return (int)json_integer_value(v);
}

static void add_layer(qm_arch *a, const char *name, int n, int k, int count, int experts, const char *p0,
                      const char *p1, const char *p2)
{
    qm_layer *l = &a->layer[a->n_layer++];
    memset(l, 0, sizeof *l);
    snprintf(l->name, sizeof l->name, "%s", name);
    l->n = n;
    l->k = k;
    l->count = count;
    l->experts = experts;
    const char *parts[3] = {p0, p1, p2};
    for (int i = 0; i < 3 && parts[i]; i++)
        snprintf(l->part[l->n_parts++], sizeof l->part[0], "%s", parts[i]);
    l->same_as = -1;
    for (int j = 0; j + 1 < a->n_layer && l->same_as < 0; j++)
        if (a->layer[j].n == n && a->layer[j].k == k)
            l->same_as = j;
}

/* The MLP of one kind: dense (experts 0) or routed experts; prefix "mlp", "mlp.shared_expert",
 * "mlp.experts.{e}" or Mixtral's "block_sparse_moe.experts.{e}" (w1 gate, w3 up, w2 down). */
static void add_mlp(qm_arch *a, const char *prefix, int inter, int count, int experts, int mixtral)
{
    char base[40], g[64], u[64], d[64], name[64];
    /* the layer's name drops the expert index: "block_sparse_moe.experts.w2" */
    snprintf(base, sizeof base, "%s", prefix);
    char *e = strstr(base, ".{e}");
    if (e)
        memmove(e, e + 4, strlen(e + 4) + 1);
    snprintf(g, sizeof g, "%s.%s", prefix, mixtral ? "w1" : "gate_proj");
    snprintf(u, sizeof u, "%s.%s", prefix, mixtral ? "w3" : "up_proj");
    snprintf(d, sizeof d, "%s.%s", prefix, mixtral ? "w2" : "down_proj");
    if (a->fused) {
        snprintf(name, sizeof name, "%s.gate_up_proj", base);
        add_layer(a, name, 2 * inter, a->hidden, count, experts, g, u, NULL);
    } else {
        snprintf(name, sizeof name, "%s.%s", base, mixtral ? "w1" : "gate_proj");
        add_layer(a, name, inter, a->hidden, count, experts, g, NULL, NULL);
        snprintf(name, sizeof name, "%s.%s", base, mixtral ? "w3" : "up_proj");
        add_layer(a, name, inter, a->hidden, count, experts, u, NULL, NULL);
    }
    snprintf(name, sizeof name, "%s.%s", base, mixtral ? "w2" : "down_proj");
    add_layer(a, name, a->hidden, inter, count, experts, d, NULL, NULL);
}

int qm_arch_parse(const char *path, const char *text, size_t len, int fused, qm_arch *a, qc_msgs *err)
{
    memset(a, 0, sizeof *a);
    a->fused = fused;
    json_error_t je;
    json_t *c = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(c)) {
        if (c)
            qc_msgs_addf(err, "%s: not a JSON object (a Hugging Face config.json is one)", path);
        else
            qc_msgs_addf(err, "%s:%d: %s", path, je.line, je.text);
        json_decref(c);
        return QC_EINPUT;
    }
    const char *mt = json_string_value(json_object_get(c, "model_type"));
    snprintf(a->model_type, sizeof a->model_type, "%s", mt ? mt : "");
    const char *nm = json_string_value(json_object_get(c, "_name_or_path"));
    snprintf(a->name, sizeof a->name, "%s", nm ? nm : "");
    const char *dt = json_string_value(json_object_get(c, "torch_dtype"));
    if (!dt)
        dt = json_string_value(json_object_get(c, "dtype"));
    snprintf(a->torch_dtype, sizeof a->torch_dtype, "%s", dt ? dt : "");
    char bad[512] = "", missing[512] = "";
    a->hidden = int_key(c, "hidden_size", bad, sizeof bad);
    a->heads = int_key(c, "num_attention_heads", bad, sizeof bad);
    a->blocks = int_key(c, "num_hidden_layers", bad, sizeof bad);
    a->intermediate = int_key(c, "intermediate_size", bad, sizeof bad);
    a->kv_heads = int_key(c, "num_key_value_heads", bad, sizeof bad);
    a->head_dim = int_key(c, "head_dim", bad, sizeof bad);
    a->experts = int_key(c, "num_local_experts", bad, sizeof bad);
    if (!a->experts)
        a->experts = int_key(c, "num_experts", bad, sizeof bad);
    a->experts_per_token = int_key(c, "num_experts_per_tok", bad, sizeof bad);
    a->moe_intermediate = int_key(c, "moe_intermediate_size", bad, sizeof bad);
    a->shared_intermediate = int_key(c, "shared_expert_intermediate_size", bad, sizeof bad);
    json_decref(c);
    const struct {
        const char *key;
        int v;
    } need[] = {{"hidden_size", a->hidden},
                {"num_attention_heads", a->heads},
                {"num_hidden_layers", a->blocks},
                {a->experts > 0 ? "num_experts_per_tok" : "intermediate_size",
                 a->experts > 0 ? a->experts_per_token : a->intermediate}};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (need[i].v == 0)
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s", *missing ? ", " : "",
                     need[i].key);
    if (a->experts > 0 && !a->moe_intermediate && !a->intermediate)
        snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%smoe_intermediate_size",
                 *missing ? ", " : "");
    if (*missing || *bad) {
        qc_msgs_addf(err, "%s: an architecture qbench cannot read (model_type '%s'): %s%s%s%s (qbench reads decoder "
                     "configs with hidden_size, intermediate_size, num_attention_heads, num_hidden_layers, optionally "
                     "num_key_value_heads, head_dim and num_local_experts/num_experts with num_experts_per_tok)",
                     path, a->model_type, *missing ? "missing " : "", missing, *missing && *bad ? "; invalid " : *bad ? "invalid " : "", bad);
        return QC_EINPUT;
    }
    if (!a->kv_heads)
        a->kv_heads = a->heads;
    if (!a->head_dim) {
        if (a->hidden % a->heads) {
            qc_msgs_addf(err, "%s: hidden_size %d is not a multiple of num_attention_heads %d, and there is no head_dim",
                         path, a->hidden, a->heads);
            return QC_EINPUT;
        }
        a->head_dim = a->hidden / a->heads;
    }
    if (a->heads % a->kv_heads) {
        qc_msgs_addf(err, "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d", path, a->heads,
                     a->kv_heads);
        return QC_EINPUT;
    }
    if (a->experts > 0 && a->experts_per_token > a->experts) {
        qc_msgs_addf(err, "%s: num_experts_per_tok %d is more than the %d experts", path, a->experts_per_token,
                     a->experts);
        return QC_EINPUT;
    }
    const int q = a->heads * a->head_dim, kv = a->kv_heads * a->head_dim;
    if (fused) {
        add_layer(a, "self_attn.qkv_proj", q + 2 * kv, a->hidden, 1, 0, "self_attn.q_proj", "self_attn.k_proj",
                  "self_attn.v_proj");
    } else {
        add_layer(a, "self_attn.q_proj", q, a->hidden, 1, 0, "self_attn.q_proj", NULL, NULL);
        add_layer(a, "self_attn.k_proj", kv, a->hidden, 1, 0, "self_attn.k_proj", NULL, NULL);
        add_layer(a, "self_attn.v_proj", kv, a->hidden, 1, 0, "self_attn.v_proj", NULL, NULL);
    }
    add_layer(a, "self_attn.o_proj", a->hidden, q, 1, 0, "self_attn.o_proj", NULL, NULL);
    if (a->experts > 0) {
        const int mixtral = !strcmp(a->model_type, "mixtral");
        add_mlp(a, mixtral ? "block_sparse_moe.experts.{e}" : "mlp.experts.{e}",
                a->moe_intermediate ? a->moe_intermediate : a->intermediate, a->experts_per_token, a->experts,
                mixtral);
        if (a->shared_intermediate)
            add_mlp(a, "mlp.shared_expert", a->shared_intermediate, 1, 0, 0);
    } else {
        add_mlp(a, "mlp", a->intermediate, 1, 0, 0);
    }
    return QC_OK;
}

/* ------------------------------------------------------------------ the directory */

typedef struct mapped {
    char *path;
    void *map;
    size_t size;
    qm_tensor *t;
    int n;
} mapped;

struct qm_model {
    char dir[4096], name[256];
    qm_arch arch;
    mapped *f;
    int nf;
};

const qm_arch *qm_model_arch(const qm_model *m) { return &m->arch; }
const char *qm_model_dir(const qm_model *m) { return m->dir; }
const char *qm_model_name(const qm_model *m) { return m->name; }
int qm_model_has_weights(const qm_model *m) { return m->nf > 0; }

static int map_file(const char *path, mapped *f, qc_msgs *err)
{
    memset(f, 0, sizeof *f);
    f->path = qc_strdup(path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st)) {
        qc_msgs_addf(err, "%s: cannot open: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return QC_EINPUT;
    }
    f->size = (size_t)st.st_size;
    if (f->size) {
        f->map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (f->map == MAP_FAILED) {
            f->map = NULL;
            qc_msgs_addf(err, "%s: cannot map %zu bytes: %s", path, f->size, strerror(errno));
            close(fd);
            return QC_ERUNTIME;
        }
    }
    close(fd);
    return qm_safetensors_parse(f->path, f->map ? f->map : (const void *)"", f->size, &f->t, &f->n, err);
}

static void unmap_file(mapped *f)
{
    qm_tensors_free(f->t, f->n);
    if (f->map)
        munmap(f->map, f->size);
    free(f->path);
}

void qm_model_close(qm_model *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->nf; i++)
        unmap_file(&m->f[i]);
    free(m->f);
    free(m);
}

static const qm_tensor *find_tensor(const qm_model *m, const char *name)
{
    for (int i = 0; i < m->nf; i++)
        for (int j = 0; j < m->f[i].n; j++)
            if (!strcmp(m->f[i].t[j].name, name))
                return &m->f[i].t[j];
    return NULL;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The files: the index's weight_map's, else every *.safetensors of the directory (sorted). */
static int list_files(const char *dir, char ***out, int *n, qc_msgs *err)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    *out = NULL;
    *n = 0;
    if (access(path, F_OK) == 0) {
        char *text;
        size_t len;
        int rc = qc_read_file(path, 64u << 20, "the safetensors index", &text, &len, err);
        if (rc)
            return rc;
        json_error_t je;
        json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
        free(text);
        json_t *map = json_object_get(j, "weight_map");
        if (!json_is_object(map)) {
            if (j)
                qc_msgs_addf(err, "%s: no \"weight_map\" object (an index maps each tensor to its file)", path);
            else
                qc_msgs_addf(err, "%s:%d: %s", path, je.line, je.text);
            json_decref(j);
            return QC_EINPUT;
        }
        char **v = qc_xcalloc(json_object_size(map) + 1, sizeof *v);
        int c = 0;
        const char *key;
        json_t *val;
        json_object_foreach(map, key, val)
        {
            const char *file = json_string_value(val);
            if (!file || !*file || strchr(file, '/')) {
                qc_msgs_addf(err, "%s: weight_map['%s'] must name a file in the directory", path, key);
                for (int i = 0; i < c; i++)
                    free(v[i]);
                free(v);
                json_decref(j);
                return QC_EINPUT;
            }
            int seen = 0;
            for (int i = 0; i < c && !seen; i++)
                seen = !strcmp(v[i], file);
            if (!seen)
                v[c++] = qc_strdup(file);
        }
        json_decref(j);
        qsort(v, (size_t)c, sizeof *v, cmp_str);
        *out = v;
        *n = c;
        return QC_OK;
    }
    DIR *d = opendir(dir);
    if (!d) {
        qc_msgs_addf(err, "%s: cannot read the directory: %s", dir, strerror(errno));
        return QC_EINPUT;
    }
    int cap = 8, c = 0;
    char **v = qc_xcalloc((size_t)cap, sizeof *v);
    for (struct dirent *e; (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        if (l > 12 && !strcmp(e->d_name + l - 12, ".safetensors")) {
            if (c == cap)
                v = qc_xrealloc(v, sizeof *v * (size_t)(cap *= 2));
            v[c++] = qc_strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(v, (size_t)c, sizeof *v, cmp_str);
    *out = v;
    *n = c;
    return QC_OK;
}

/* "model.layers.<block>.<part>.weight", an expert's index 0 */
static void tensor_name(const char *part, int block, char *out, size_t len)
{
    char p[64];
    snprintf(p, sizeof p, "%s", part);
    char *e = strstr(p, "{e}");
    if (e) {
        e[0] = '0';
        memmove(e + 1, e + 3, strlen(e + 3) + 1);
    }
    snprintf(out, len, "model.layers.%d.%s.weight", block, p);
}

/* What config.json says of a layer's part's shape, for messages. */
static void part_shape(const qm_arch *a, const qm_layer *l, int part, int *n, int *k)
{
    *k = l->k;
    *n = l->n;
    if (l->n_parts == 3) /* q, k, v */
        *n = part == 0 ? a->heads * a->head_dim : a->kv_heads * a->head_dim;
    else if (l->n_parts == 2)
        *n = l->n / 2;
}

int qm_model_open(const char *dir, int fused, qm_model **out, qc_msgs *err)
{
    *out = NULL;
    qm_model *m = qc_xcalloc(1, sizeof *m);
    snprintf(m->dir, sizeof m->dir, "%s", dir);
    char path[4400], *text;
    size_t len;
    snprintf(path, sizeof path, "%s/config.json", dir);
    int rc = qc_read_file(path, 16u << 20, "the model's config.json", &text, &len, err);
    if (rc) {
        qc_msgs_addf(err, "%s: a model directory needs config.json (Hugging Face layout: config.json and "
                     "*.safetensors)", dir);
        free(m);
        return QC_EINPUT;
    }
    rc = qm_arch_parse(path, text, len, fused, &m->arch, err);
    free(text);
    char trimmed[4096];
    snprintf(trimmed, sizeof trimmed, "%s", dir);
    for (size_t l = strlen(trimmed); l > 1 && trimmed[l - 1] == '/'; l--)
        trimmed[l - 1] = 0;
    const char *base = strrchr(trimmed, '/');
    snprintf(m->name, sizeof m->name, "%s", *m->arch.name ? m->arch.name : base ? base + 1 : trimmed);
    if (rc) {
        free(m);
        return rc;
    }
    char **files;
    int nfiles;
    if ((rc = list_files(dir, &files, &nfiles, err))) {
        free(m);
        return rc;
    }
    m->f = qc_xcalloc((size_t)nfiles + 1, sizeof *m->f);
    for (int i = 0; i < nfiles && !rc; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        rc = map_file(path, &m->f[i], err);
        m->nf = i + 1;
    }
    for (int i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    /* every layer's tensors of the first block: present, 2-D, a float dtype, the shape config.json implies */
    const qm_arch *a = &m->arch;
    for (int i = 0; i < a->n_layer && !rc && m->nf; i++)
        for (int p = 0; p < a->layer[i].n_parts && !rc; p++) {
            char tn[128];
            tensor_name(a->layer[i].part[p], 0, tn, sizeof tn);
            const qm_tensor *t = find_tensor(m, tn);
            int n, k;
            part_shape(a, &a->layer[i], p, &n, &k);
            if (!t) {
                qc_msgs_addf(err, "%s: tensor '%s' is missing (looked in %d safetensors file%s; config.json's layer "
                             "%s needs it)", dir, tn, m->nf, m->nf == 1 ? "" : "s", a->layer[i].name);
                rc = QC_EINPUT;
            } else if (t->ndim != 2 || t->shape[0] != n || t->shape[1] != k) {
                char sh[96] = "";
                for (int d = 0; d < t->ndim; d++)
                    snprintf(sh + strlen(sh), sizeof sh - strlen(sh), "%s%lld", d ? ", " : "", (long long)t->shape[d]);
                qc_msgs_addf(err, "%s: tensor '%s' has shape [%s]; config.json (hidden_size %d, intermediate_size %d, "
                             "heads %d, kv heads %d, head_dim %d) implies [%d, %d]", t->file, tn, sh, a->hidden,
                             a->moe_intermediate && a->layer[i].experts ? a->moe_intermediate : a->intermediate,
                             a->heads, a->kv_heads, a->head_dim, n, k);
                rc = QC_EINPUT;
            } else if (t->dtype != QM_F32 && t->dtype != QM_F16 && t->dtype != QM_BF16) {
                qc_msgs_addf(err, "%s: tensor '%s' is %s; qbench quantizes weights from F32, F16 or BF16", t->file,
                             tn, qm_dtype_name(t->dtype));
                rc = QC_EINPUT;
            }
        }
    if (rc) {
        qm_model_close(m);
        return rc;
    }
    *out = m;
    return QC_OK;
}

int qm_model_find_layer(const qm_model *m, const char *name)
{
    for (int i = 0; i < m->arch.n_layer; i++)
        if (!strcmp(m->arch.layer[i].name, name))
            return i;
    return -1;
}

int qm_model_weights(const qm_model *m, int layer, int block, float *w, qc_msgs *err)
{
    const qm_layer *l = &m->arch.layer[layer];
    size_t row = 0;
    for (int p = 0; p < l->n_parts; p++) {
        char tn[128];
        tensor_name(l->part[p], block, tn, sizeof tn);
        const qm_tensor *t = find_tensor(m, tn);
        int n, k;
        part_shape(&m->arch, l, p, &n, &k);
        if (!t || t->ndim != 2 || t->shape[0] != n || t->shape[1] != k) {
            qc_msgs_addf(err, "%s: tensor '%s' is %s", m->dir, tn, t ? "not of the first block's shape" : "missing");
            return QC_EINPUT;
        }
        int rc = qm_tensor_to_f32(t, w + row * (size_t)k, err);
        if (rc)
            return rc;
        row += (size_t)n;
    }
    return QC_OK;
}

/* ------------------------------------------------------------------ captured activations */

struct qm_acts {
    mapped f;
};

int qm_acts_open(const char *path, qm_acts **out, qc_msgs *err)
{
    qm_acts *a = qc_xcalloc(1, sizeof *a);
    int rc = map_file(path, &a->f, err);
    for (int i = 0; !rc && i < a->f.n; i++) {
        const qm_tensor *t = &a->f.t[i];
        if (t->ndim != 2 || !t->shape[0] || (t->dtype != QM_F32 && t->dtype != QM_F16 && t->dtype != QM_BF16)) {
            qc_msgs_addf(err, "%s: tensor '%s' is not activations: a 2-D [tokens, K] tensor in F32, F16 or BF16, "
                         "at least one token", path, t->name);
            rc = QC_EINPUT;
        }
    }
    if (!rc && !a->f.n) {
        qc_msgs_addf(err, "%s: no tensors (captured activations are 2-D [tokens, K] tensors)", path);
        rc = QC_EINPUT;
    }
    if (rc) {
        qm_acts_close(a);
        *out = NULL;
        return rc;
    }
    *out = a;
    return QC_OK;
}

void qm_acts_close(qm_acts *a)
{
    if (!a)
        return;
    unmap_file(&a->f);
    free(a);
}

int qm_acts_rows(const qm_acts *a, int k, int m, float *x)
{
    for (int i = 0; i < a->f.n; i++) {
        const qm_tensor *t = &a->f.t[i];
        if (t->shape[1] != k)
            continue;
        const int rows = (int)t->shape[0], es = qm_dtype_size(t->dtype);
        for (int r = 0; r < m; r++) {
            qm_tensor one = *t;
            one.data = t->data + (size_t)(r % rows) * k * es;
            one.bytes = (size_t)k * es;
            qm_tensor_to_f32(&one, x + (size_t)r * k, NULL);
        }
        return 1;
    }
    return 0;
}
