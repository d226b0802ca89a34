/* models/: the model a user serves, read from a Hugging Face-layout directory: config.json (the
 * architecture, hence its linear layers and their shapes) and *.safetensors (the tensors; with
 * model.safetensors.index.json when sharded). Files are mapped read-only; each header is parsed
 * with jansson and checked against its file before any tensor is read (dtype, shape, offsets,
 * overlaps, the header's length against the file's size). The sweep takes its shapes and its
 * weights from here. Prefix qm_.
 *
 * Errors name the file and the tensor: "qbench: DIR/model-00001-of-00002.safetensors: tensor
 * 'model.layers.0.mlp.up_proj.weight': data_offsets [0, 96] end past the data (64 bytes)". */
#ifndef QBENCH_MODELS_MODEL_H
#define QBENCH_MODELS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "common/qc.h"

/* ---- safetensors ---- */
typedef enum qm_dtype {
    QM_BOOL, QM_U8, QM_I8, QM_F8_E4M3, QM_F8_E5M2, QM_I16, QM_U16, QM_F16, QM_BF16, QM_I32, QM_U32, QM_F32,
    QM_I64, QM_U64, QM_F64, QM_DTYPE_COUNT
} qm_dtype;
const char *qm_dtype_name(qm_dtype d);
int qm_dtype_size(qm_dtype d);

enum { QM_MAX_DIMS = 8, QM_NAME_MAX = 256 };
/* The largest header qbench reads (the format's own limit): 100 MB. */
#define QM_HEADER_MAX ((uint64_t)100 * 1000 * 1000)

typedef struct qm_tensor {
    char *name;              /* owned */
    qm_dtype dtype;
    int ndim;
    int64_t shape[QM_MAX_DIMS];
    const uint8_t *data;     /* into the file's mapping (or the parsed buffer) */
    size_t bytes;
    const char *file;        /* the file it is in (for messages) */
} qm_tensor;

/* Parses a safetensors file's bytes (`what`: its name in messages): the 8-byte little-endian
 * header length, the JSON header, and every tensor's entry, checked: known dtype, a shape of
 * non-negative dimensions, [begin, end) inside the data with end − begin = elements × dtype size,
 * no two tensors overlapping, names valid UTF-8 (jansson's check) and at most QM_NAME_MAX bytes.
 * QC_EINPUT with the file and tensor named when anything is wrong. The tensors point into buf. */
int qm_safetensors_parse(const char *what, const uint8_t *buf, size_t size, qm_tensor **out, int *n, qc_msgs *err);
void qm_tensors_free(qm_tensor *v, int n);

/* ---- the model ---- */
/* A linear layer of one decoder block, as the sweep measures it: Y = X · Wᵀ, W of N × K. */
typedef struct qm_layer {
    char name[64];        /* "self_attn.q_proj", "mlp.gate_up_proj", "block_sparse_moe.experts.w2" */
    int n, k;
    int count;            /* how many of it a token passes through in one block: 1; a routed expert:
                           * the experts per token */
    int experts;          /* routed experts of this kind per block (0: a dense layer) */
    int n_parts;          /* its tensors, stacked along N (2 or 3 for a fused layer) */
    char part[3][64];     /* their names within a block ("self_attn.q_proj"; an expert's with
                           * "{e}" where its index goes) */
    int same_as;          /* the first layer of the same N × K (−1: none before it): measured once */
} qm_layer;

enum { QM_MAX_LAYERS = 16 };

typedef struct qm_arch {
    char model_type[32];
    char name[256];         /* _name_or_path, or "" */
    char torch_dtype[16];   /* "bfloat16", "float16", "float32" or "" */
    int hidden, intermediate, heads, kv_heads, head_dim, blocks;
    int experts, experts_per_token, moe_intermediate, shared_intermediate;
    int fused;              /* the layers are the fused forms (qkv, gate_up) */
    qm_layer layer[QM_MAX_LAYERS];
    int n_layer;
} qm_arch;

/* The linear layers of config.json's text (path: for messages): q, k, v, o, gate, up and down
 * (fused: qkv, o, gate_up, down) from hidden_size, intermediate_size, num_attention_heads,
 * num_key_value_heads (default: the heads) and head_dim (default: hidden ÷ heads); routed experts
 * (num_local_experts or num_experts, num_experts_per_tok, moe_intermediate_size, a shared expert's
 * shared_expert_intermediate_size) in place of the dense MLP; num_hidden_layers for totals.
 * QC_EINPUT naming every missing or invalid key. */
int qm_arch_parse(const char *path, const char *json, size_t len, int fused, qm_arch *out, qc_msgs *err);

typedef struct qm_model qm_model;

/* Opens DIR: reads config.json, maps the safetensors files (those model.safetensors.index.json
 * lists, else every *.safetensors), checks each header, and checks that the first block's
 * tensors of every layer are present with the shape config.json implies and a float dtype
 * (F32, F16, BF16). QC_EINPUT naming the file and tensor otherwise. */
int qm_model_open(const char *dir, int fused, qm_model **out, qc_msgs *err);
void qm_model_close(qm_model *m);
const qm_arch *qm_model_arch(const qm_model *m);
const char *qm_model_dir(const qm_model *m);
/* The name a person knows it by: config.json's _name_or_path, else the directory's last part. */
const char *qm_model_name(const qm_model *m);
/* Does the directory have safetensors files (else only config.json: the shapes are the model's,
 * the weights synthetic)? */
int qm_model_has_weights(const qm_model *m);
/* Layer i's weights of block `block` (N × K fp32, row-major; an expert's: expert 0), converted
 * from the file's dtype; its parts stacked along N. QC_EINPUT naming the tensor when missing. */
int qm_model_weights(const qm_model *m, int layer, int block, float *w, qc_msgs *err);
/* The index of a layer by name ("mlp.down_proj"), −1 when none. */
int qm_model_find_layer(const qm_model *m, const char *name);

/* Activations captured from a model (--acts FILE): a safetensors file whose tensors are 2-D,
 * [tokens, K], in a float dtype. The rows for K: the first tensor of that K, as fp32, at most
 * `m` rows (fewer when it has fewer: they repeat). */
typedef struct qm_acts qm_acts;
int qm_acts_open(const char *path, qm_acts **out, qc_msgs *err);
void qm_acts_close(qm_acts *a);
/* 1 when the file has a tensor of width k (x: m × k, rows cycling), 0 when not. */
int qm_acts_rows(const qm_acts *a, int k, int m, float *x);

/* One tensor's values as fp32 (a float dtype only; QC_EINPUT otherwise). */
int qm_tensor_to_f32(const qm_tensor *t, float *out, qc_msgs *err);

#endif
