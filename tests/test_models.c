/* Real models (--model DIR): config.json → the linear layers; safetensors → their weights, checked
 * before use; the model's own weights quantized (a model whose weights int4 g128 represents exactly
 * has no weight error); SQNR; per-model totals; and every bad file refused with exit 2, naming the
 * file and the tensor. The tests write their tiny models themselves: 2 blocks, hidden 256,
 * intermediate 512, 4 heads of 64, 2 kv heads. */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "kernels/qk.h"
#include "models/model.h"
#include "testutil.h"

static const char *qbench;
static char tmp[64];

enum { HIDDEN = 256, INTER = 512, HEADS = 4, KV = 2, HD = 64, BLOCKS = 2 };

/* ------------------------------------------------------------------ writing tiny models */

typedef enum { BF16, F16, F32 } dt;

typedef struct tensor {
    char name[96];
    dt dtype;
    int n, k;
    float *v; /* n × k */
} tensor;

static int dsize(dt d) { return d == F32 ? 4 : 2; }
static const char *dname(dt d) { return d == F32 ? "F32" : d == F16 ? "F16" : "BF16"; }

static uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

/* A safetensors file of the tensors; `header_extra` replaces the header's text when set. */
static void write_st(const char *path, const tensor *t, int n, const char *header_text)
{
    json_t *h = json_object();
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        size_t bytes = (size_t)t[i].n * t[i].k * dsize(t[i].dtype);
        json_object_set_new(h, t[i].name,
                            json_pack("{s:s, s:[i,i], s:[I,I]}", "dtype", dname(t[i].dtype), "shape", t[i].n, t[i].k,
                                      "data_offsets", (json_int_t)off, (json_int_t)(off + bytes)));
        off += bytes;
    }
    json_object_set_new(h, "__metadata__", json_pack("{s:s}", "format", "pt"));
    char *text = header_text ? strdup(header_text) : json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(h);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint64_t hl = strlen(text);
    for (int i = 0; i < 8; i++)
        fputc((int)(hl >> (8 * i)) & 255, f);
    fwrite(text, 1, hl, f);
    free(text);
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < (size_t)t[i].n * t[i].k; j++) {
            float x = t[i].v[j];
            if (t[i].dtype == F32) {
                fwrite(&x, 4, 1, f);
            } else {
                uint16_t b = t[i].dtype == F16 ? qk_float_to_half(x) : to_bf16(x);
                fputc(b & 255, f);
                fputc(b >> 8, f);
            }
        }
    fclose(f);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float urand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2 - 1;
}

/* Weights: random (≈ N(0, 0.02)), or exactly what int4 g128 symmetric represents: integers
 * −7..7 times a power-of-two scale per group of 128 along K, each group reaching ±7. */
static void fill(float *v, int n, int k, int exact)
{
    for (int r = 0; r < n; r++)
        for (int g = 0; g < k; g += 128) {
            const float s = ldexpf(1.0f, -6 - (r + g / 128) % 3);
            for (int j = g; j < g + 128 && j < k; j++) {
                if (exact) {
                    int q = (int)lrintf(urand() * 7);
                    if (j == g)
                        q = (r & 1) ? -7 : 7;
                    v[(size_t)r * k + j] = (float)q * s;
                } else {
                    v[(size_t)r * k + j] = 0.02f * urand() * 1.7f;
                }
            }
        }
}

static const char *config_json(const char *dtype)
{
    static char c[512];
    snprintf(c, sizeof c,
             "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": %d, "
             "\"intermediate_size\": %d, \"num_attention_heads\": %d, \"num_key_value_heads\": %d, "
             "\"num_hidden_layers\": %d, \"torch_dtype\": \"%s\", \"vocab_size\": 1000}",
             HIDDEN, INTER, HEADS, KV, BLOCKS, dtype);
    return c;
}

static const struct {
    const char *part;
    int n, k;
} parts[] = {{"self_attn.q_proj", HEADS * HD, HIDDEN}, {"self_attn.k_proj", KV * HD, HIDDEN},
             {"self_attn.v_proj", KV * HD, HIDDEN},    {"self_attn.o_proj", HIDDEN, HEADS * HD},
             {"mlp.gate_proj", INTER, HIDDEN},         {"mlp.up_proj", INTER, HIDDEN},
             {"mlp.down_proj", HIDDEN, INTER}};
enum { NPARTS = 7 };

/* A model directory: every block's seven tensors; `files` 2 splits them between two files with
 * an index. Returns the directory. */
static const char *make_model(const char *name, dt d, int exact, int files)
{
    static char dirs[8][512]; /* tu_path's buffers are reused: the directory keeps its own */
    static int nd;
    char *dir = dirs[nd++ % 8];
    snprintf(dir, sizeof dirs[0], "%s/%s", tmp, name);
    mkdir(dir, 0755);
    FILE *f = fopen(tu_path("%s/config.json", dir), "w");
    fputs(config_json(d == F16 ? "float16" : d == F32 ? "float32" : "bfloat16"), f);
    fclose(f);
    tensor t[BLOCKS * NPARTS];
    for (int b = 0; b < BLOCKS; b++)
        for (int p = 0; p < NPARTS; p++) {
            tensor *x = &t[b * NPARTS + p];
            snprintf(x->name, sizeof x->name, "model.layers.%d.%s.weight", b, parts[p].part);
            x->dtype = d;
            x->n = parts[p].n;
            x->k = parts[p].k;
            x->v = malloc(sizeof(float) * (size_t)x->n * x->k);
            fill(x->v, x->n, x->k, exact);
        }
    if (files == 1) {
        write_st(tu_path("%s/model.safetensors", dir), t, BLOCKS * NPARTS, NULL);
    } else { /* block 0 in one file, block 1 in the other, and the index */
        json_t *map = json_object();
        for (int b = 0; b < BLOCKS; b++) {
            char fn[64];
            snprintf(fn, sizeof fn, "model-%05d-of-%05d.safetensors", b + 1, BLOCKS);
            write_st(tu_path("%s/%s", dir, fn), t + b * NPARTS, NPARTS, NULL);
            for (int p = 0; p < NPARTS; p++)
                json_object_set_new(map, t[b * NPARTS + p].name, json_string(fn));
        }
        json_t *idx = json_pack("{s:{s:i}, s:o}", "metadata", "total_size", 0, "weight_map", map);
        json_dump_file(idx, tu_path("%s/model.safetensors.index.json", dir), 0);
        json_decref(idx);
    }
    for (int i = 0; i < BLOCKS * NPARTS; i++)
        free(t[i].v);
    return dir;
}

static json_t *run_json(const char *const *args)
{
    char *out, *err;
    int rc = tu_run(qbench, args, &out, &err);
    if (rc)
        print_error("rc %d: %s\n", rc, err);
    assert_int_equal(rc, 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    free(out), free(err);
    return j;
}

static void expect_fail(const char *const *args, const char *want1, const char *want2)
{
    char *out, *err;
    int rc = tu_run(qbench, args, &out, &err);
    if (rc != 2 || !strstr(err, want1) || (want2 && !strstr(err, want2)))
        print_error("rc=%d stderr=%s\n", rc, err);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, want1));
    if (want2)
        assert_non_null(strstr(err, want2));
    free(out), free(err);
}

/* ------------------------------------------------------------------ config.json → layers */

static void test_layers_from_config(void **state)
{
    (void)state;
    const char *c = config_json("bfloat16");
    qm_arch a;
    qc_msgs err = {0};
    assert_int_equal(qm_arch_parse("config.json", c, strlen(c), 0, &a, &err), QC_OK);
    assert_int_equal(a.n_layer, 7);
    assert_int_equal(a.blocks, BLOCKS);
    assert_string_equal(a.torch_dtype, "bfloat16");
    for (int i = 0; i < NPARTS; i++) {
        assert_string_equal(a.layer[i].name, parts[i].part);
        assert_int_equal(a.layer[i].n, parts[i].n);
        assert_int_equal(a.layer[i].k, parts[i].k);
    }
    /* the same N × K is measured once: v as k, o as q, up as gate */
    assert_int_equal(a.layer[2].same_as, 1);
    assert_int_equal(a.layer[3].same_as, 0);
    assert_int_equal(a.layer[5].same_as, 4);
    assert_int_equal(a.layer[6].same_as, -1);
    /* fused: qkv (q + 2 kv heads) and gate_up */
    assert_int_equal(qm_arch_parse("config.json", c, strlen(c), 1, &a, &err), QC_OK);
    assert_int_equal(a.n_layer, 4);
    assert_string_equal(a.layer[0].name, "self_attn.qkv_proj");
    assert_int_equal(a.layer[0].n, (HEADS + 2 * KV) * HD);
    assert_int_equal(a.layer[0].n_parts, 3);
    assert_string_equal(a.layer[2].name, "mlp.gate_up_proj");
    assert_int_equal(a.layer[2].n, 2 * INTER);
    /* MoE: Mixtral's experts replace the dense MLP; Qwen's shared expert beside them */
    const char *moe = "{\"model_type\": \"mixtral\", \"hidden_size\": 256, \"intermediate_size\": 512, "
                      "\"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"num_hidden_layers\": 2, "
                      "\"num_local_experts\": 8, \"num_experts_per_tok\": 2}";
    assert_int_equal(qm_arch_parse("config.json", moe, strlen(moe), 0, &a, &err), QC_OK);
    assert_int_equal(a.n_layer, 7);
    assert_string_equal(a.layer[6].name, "block_sparse_moe.experts.w2");
    assert_string_equal(a.layer[6].part[0], "block_sparse_moe.experts.{e}.w2");
    assert_int_equal(a.layer[6].experts, 8);
    assert_int_equal(a.layer[6].count, 2);
    const char *qwen = "{\"model_type\": \"qwen2_moe\", \"hidden_size\": 256, \"intermediate_size\": 1024, "
                       "\"moe_intermediate_size\": 128, \"shared_expert_intermediate_size\": 512, "
                       "\"num_attention_heads\": 4, \"num_hidden_layers\": 2, \"num_experts\": 16, "
                       "\"num_experts_per_tok\": 4}";
    assert_int_equal(qm_arch_parse("config.json", qwen, strlen(qwen), 0, &a, &err), QC_OK);
    assert_int_equal(a.n_layer, 10);
    assert_string_equal(a.layer[4].name, "mlp.experts.gate_proj");
    assert_int_equal(a.layer[4].n, 128);
    assert_string_equal(a.layer[9].name, "mlp.shared_expert.down_proj");
    assert_int_equal(a.layer[9].k, 512);
    assert_int_equal(a.layer[9].experts, 0);
    /* an architecture it cannot read: every missing key named */
    const char *bad = "{\"model_type\": \"mamba\", \"hidden_size\": 256, \"num_hidden_layers\": 2}";
    assert_int_equal(qm_arch_parse("config.json", bad, strlen(bad), 0, &a, &err), QC_EINPUT);
    assert_non_null(strstr(err.v[0], "num_attention_heads"));
    assert_non_null(strstr(err.v[0], "intermediate_size"));
    assert_non_null(strstr(err.v[0], "mamba"));
    qc_msgs_free(&err);
}

/* ------------------------------------------------------------------ the model's own weights */

static double weight_error_of(const char *dir, const char *scheme, const char *layer)
{
    const char *args[] = {"run", "--model", dir, "--layer", layer, "--scheme", scheme, "-m", "4", "--min-time",
                          "0.01", "--json", NULL};
    json_t *j = run_json(args);
    assert_true(json_is_true(json_object_get(j, "correct")));
    assert_string_equal(json_string_value(json_object_get(j, "layer")), layer);
    assert_int_equal(json_integer_value(json_object_get(j, "n")), strcmp(layer, "mlp.down_proj") ? INTER : HIDDEN);
    double e = json_number_value(json_object_get(j, "weight_error"));
    double db = json_number_value(json_object_get(j, "weight_sqnr_db"));
    if (e > 0)
        assert_true(fabs(db + 20 * log10(e)) < 1e-6);
    assert_true(json_number_value(json_object_get(j, "sqnr_db")) > 0);
    json_decref(j);
    return e;
}

static void test_model_weights_are_used(void **state)
{
    (void)state;
    const char *exact = make_model("exact", BF16, 1, 1), *random = make_model("random", BF16, 0, 1);
    /* int4 g128 symmetric represents the exact model's weights: no weight error at all */
    double e_exact = weight_error_of(exact, "w4a16", "mlp.down_proj");
    double e_random = weight_error_of(random, "w4a16", "mlp.down_proj");
    print_message("w4a16 g128 weight error: exact model %.3g, random model %.3g (%.1f dB)\n", e_exact, e_random,
                  -20 * log10(e_random));
    assert_true(e_exact < 1e-6);
    assert_true(e_random > 1e-2);
    /* the same in fp16 and in a model sharded over two files with an index */
    const char *f16 = make_model("exact16", F16, 1, 2);
    assert_true(weight_error_of(f16, "w4a16", "mlp.gate_proj") < 1e-6);
    assert_true(weight_error_of(f16, "w8a16", "mlp.gate_proj") > 0); /* int8 per channel: not exact */
    /* an unknown layer names the ones there are */
    const char *bad[] = {"run", "--model", exact, "--layer", "mlp.nope", "--scheme", "fp16", NULL};
    expect_fail(bad, "mlp.nope", "mlp.down_proj");
}

/* ------------------------------------------------------------------ a sweep of a model */

static void test_model_sweep_and_totals(void **state)
{
    (void)state;
    const char *dir = make_model("sweep", BF16, 0, 2);
    const char *out = tu_path("%s/out", tmp);
    const char *args[] = {"sweep", "--model", dir, "--quick", "--schemes", "fp16,w4a16", "--batch", "1,4",
                          "--min-time", "0.005", "--repetitions", "2", "--max-cv", "100", "-o", out, NULL};
    char *o, *e;
    int rc = tu_run(qbench, args, &o, &e);
    if (rc)
        print_error("%s\n", e);
    assert_int_equal(rc, 0);
    /* the totals: weights per scheme and a pass per M */
    assert_non_null(strstr(o, "weights (GB)"));
    assert_non_null(strstr(o, "decode M=4"));
    assert_non_null(strstr(o, "mlp.down_proj 256x512"));
    /* the weight memory of fp16: exactly the cost function's bytes of every layer of every block */
    qk_problem p = {.scheme = QK_FP16, .m = 1};
    double bytes = 0;
    for (int j = 0; j < NPARTS; j++) {
        p.n = parts[j].n, p.k = parts[j].k;
        bytes += qk_problem_cost(&p).weight_bytes;
    }
    char want[64];
    snprintf(want, sizeof want, "weights (GB)           %12.4g", bytes * BLOCKS / 1e9);
    if (!strstr(o, want))
        print_error("no '%s' in\n%s\n", want, o);
    assert_non_null(strstr(o, want));
    free(o), free(e);
    json_t *doc = json_load_file(tu_path("%s/results.json", out), 0, NULL), *b;
    assert_non_null(doc);
    json_t *model = json_object_get(json_object_get(json_object_get(doc, "context"), "qbench"), "model");
    assert_int_equal(json_integer_value(json_object_get(model, "blocks")), BLOCKS);
    assert_string_equal(json_string_value(json_object_get(model, "weights")), "model");
    assert_int_equal(json_array_size(json_object_get(model, "layers")), 7);
    /* one point per distinct N × K (q, k, gate, down) per scheme and M, each named by its layer */
    size_t i;
    int pts = 0, named[4] = {0};
    const char *layers[4] = {"self_attn.q_proj", "self_attn.k_proj", "mlp.gate_proj", "mlp.down_proj"};
    json_array_foreach(json_object_get(doc, "benchmarks"), i, b)
    {
        if (strcmp(json_string_value(json_object_get(b, "aggregate_name")) ?: "", "median"))
            continue;
        pts++;
        const char *l = json_string_value(json_object_get(b, "layer"));
        assert_non_null(l);
        for (int j = 0; j < 4; j++)
            named[j] += !strcmp(l, layers[j]);
        assert_true(json_number_value(json_object_get(b, "weight_sqnr_db")) > 10);
        /* a bfloat16 model: the quantized schemes take bf16 activations; fp16 keeps its own */
        const int fp16 = !strcmp(json_string_value(json_object_get(b, "scheme")), "fp16");
        assert_string_equal(json_string_value(json_object_get(b, "act")), fp16 ? "fp16" : "bf16");
        assert_string_equal(json_string_value(json_object_get(b, "out")), fp16 ? "f16" : "bf16");
        assert_true(fp16 == !strstr(json_string_value(json_object_get(b, "point")), "/bf16-bf16/"));
    }
    assert_int_equal(pts, 4 * 2 * 2);
    for (int j = 0; j < 4; j++)
        assert_int_equal(named[j], 4);
    json_decref(doc);
    const char *tune[] = {"tune", tu_path("%s/results.json", out), "--min-sqnr", "40", NULL};
    rc = tu_run(qbench, tune, &o, &e);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(o, "excluded: w4a16")); /* int4's SQNR is under 40 dB; fp16's is not */
    assert_null(strstr(o, "excluded: fp16"));
    free(o), free(e);
    const char *resume[] = {"sweep", "--quick", "--schemes", "fp16", "--batch", "1", "--resume",
                            tu_path("%s/results.json", out), NULL};
    expect_fail(resume, "--model", NULL);
}

/* ------------------------------------------------------------------ bad files */

static void expect_bad_model(const char *dir, const char *want1, const char *want2)
{
    const char *args[] = {"sweep", "--model", dir, "--quick", "--schemes", "fp16", "--batch", "1", "-o",
                          tu_path("%s/never", tmp), NULL};
    expect_fail(args, want1, want2);
    assert_int_equal(access(tu_path("%s/never/results.json", tmp), F_OK), -1);
}

static void test_bad_files(void **state)
{
    (void)state;
    const char *good = make_model("bad", BF16, 0, 1);
    char st[600];
    snprintf(st, sizeof st, "%s/model.safetensors", good);
    char *orig = NULL;
    size_t len = 0;
    {
        FILE *f = fopen(st, "rb");
        fseek(f, 0, SEEK_END);
        len = (size_t)ftell(f);
        fseek(f, 0, SEEK_SET);
        orig = malloc(len);
        assert_int_equal(fread(orig, 1, len, f), len);
        fclose(f);
    }
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = hl << 8 | (uint8_t)orig[i];
#define REWRITE(bytes, n)                                                                                              \
    do {                                                                                                               \
        FILE *f = fopen(st, "wb");                                                                                     \
        fwrite(bytes, 1, n, f);                                                                                        \
        fclose(f);                                                                                                     \
    } while (0)
    /* truncated: the last tensor's data runs past the end */
    REWRITE(orig, len - 100);
    expect_bad_model(good, "model.safetensors: tensor 'model.layers.1.mlp.down_proj.weight'", "truncated");
    /* a header length past the end */
    char *h = malloc(len);
    memcpy(h, orig, len);
    uint64_t big = len;
    for (int i = 0; i < 8; i++)
        h[i] = (char)(big >> (8 * i));
    REWRITE(h, len);
    expect_bad_model(good, "model.safetensors: header length", "past the end");
    /* a header over 100 MB */
    big = 200u * 1000 * 1000;
    for (int i = 0; i < 8; i++)
        h[i] = (char)(big >> (8 * i));
    REWRITE(h, len);
    expect_bad_model(good, "model.safetensors: header length", "100 MB");
    /* headers of their own, over the original data */
    const char *rest = orig + 8 + hl;
    const size_t data = len - 8 - hl;
    struct {
        const char *header, *want1, *want2;
    } cases[] = {
        {"{\"model.layers.0.self_attn.q_proj.weight\": {\"dtype\": \"Q4_K\", \"shape\": [256, 256], "
         "\"data_offsets\": [0, 131072]}}",
         "tensor 'model.layers.0.self_attn.q_proj.weight'", "unknown dtype 'Q4_K'"},
        {"{\"a\": {\"dtype\": \"BF16\", \"shape\": [256, 256], \"data_offsets\": [0, 131072]}, "
         "\"b\": {\"dtype\": \"BF16\", \"shape\": [256, 256], \"data_offsets\": [131000, 262072]}}",
         "tensors 'a'", "overlap"},
        {"{\"a\": {\"dtype\": \"BF16\", \"shape\": [256, 256], \"data_offsets\": [99999999, 100131071]}}",
         "tensor 'a'", "end past the data"},
        {"{\"a\": {\"dtype\": \"BF16\", \"shape\": [256, 256], \"data_offsets\": [0, 1000]}}", "tensor 'a'",
         "131072"},
        {"{\"caf\xe9\": {\"dtype\": \"BF16\", \"shape\": [1], \"data_offsets\": [0, 2]}}", "model.safetensors",
         "UTF-8"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t hn = strlen(cases[c].header);
        char *buf = malloc(8 + hn + data);
        for (int i = 0; i < 8; i++)
            buf[i] = (char)((uint64_t)hn >> (8 * i));
        memcpy(buf + 8, cases[c].header, hn);
        memcpy(buf + 8 + hn, rest, data);
        REWRITE(buf, 8 + hn + data);
        free(buf);
        expect_bad_model(good, cases[c].want1, cases[c].want2);
    }
    /* a shape that disagrees with config.json; a missing tensor */
    tensor t = {"model.layers.0.self_attn.q_proj.weight", BF16, 128, 256, calloc(128 * 256, 4)};
    fill(t.v, 128, 256, 0);
    write_st(st, &t, 1, NULL);
    expect_bad_model(good, "tensor 'model.layers.0.self_attn.q_proj.weight' has shape [128, 256]", "implies [256, 256]");
    t.n = 256;
    t.v = realloc(t.v, 256 * 256 * 4);
    fill(t.v, 256, 256, 0);
    write_st(st, &t, 1, NULL);
    expect_bad_model(good, "tensor 'model.layers.0.self_attn.k_proj.weight' is missing", NULL);
    free(t.v);
    /* an unknown architecture */
    FILE *f = fopen(tu_path("%s/config.json", good), "w");
    fputs("{\"model_type\": \"rwkv\", \"hidden_size\": 256}", f);
    fclose(f);
    expect_bad_model(good, "config.json", "missing num_attention_heads, num_hidden_layers, intermediate_size");
    free(orig), free(h);
#undef REWRITE
}

/* the reader on its own: every header fault, and a clean parse of a good one */
static void test_safetensors_parse(void **state)
{
    (void)state;
    const char hdr[] = "{\"w\": {\"dtype\": \"F16\", \"shape\": [2, 3], \"data_offsets\": [0, 12]}, "
                       "\"e\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [12, 12]}}";
    uint8_t buf[8 + sizeof hdr + 12];
    const size_t hn = sizeof hdr - 1;
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)hn >> (8 * i));
    memcpy(buf + 8, hdr, hn);
    for (int i = 0; i < 6; i++) {
        uint16_t v = qk_float_to_half((float)i - 2.5f);
        buf[8 + hn + 2 * i] = v & 255, buf[8 + hn + 2 * i + 1] = v >> 8;
    }
    qm_tensor *t;
    int n;
    qc_msgs err = {0};
    assert_int_equal(qm_safetensors_parse("x", buf, 8 + hn + 12, &t, &n, &err), QC_OK);
    assert_int_equal(n, 2);
    float f[6];
    const qm_tensor *w = !strcmp(t[0].name, "w") ? &t[0] : &t[1];
    assert_int_equal(qm_tensor_to_f32(w, f, &err), QC_OK);
    for (int i = 0; i < 6; i++)
        assert_true(f[i] == (float)i - 2.5f);
    qm_tensors_free(t, n);
    assert_int_equal(qm_safetensors_parse("x", buf, 7, &t, &n, &err), QC_EINPUT);
    assert_int_equal(qm_safetensors_parse("x", buf, 8 + hn + 11, &t, &n, &err), QC_EINPUT);
    assert_non_null(strstr(err.v[err.n - 1], "tensor 'w'"));
    qc_msgs_free(&err);
}

int main(int argc, char **argv)
{
    qbench = argc > 1 ? argv[1] : "build/qbench";
    snprintf(tmp, sizeof tmp, "/tmp/qbench-models-XXXXXX");
    assert_non_null(mkdtemp(tmp));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layers_from_config),    cmocka_unit_test(test_safetensors_parse),
        cmocka_unit_test(test_model_weights_are_used), cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_model_sweep_and_totals),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd)) {
    }
    return rc;
}
