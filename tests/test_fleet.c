/* The fleet dispatch table (qbench emit over results of several devices), compiled as C99 and as
 * C++17 (pedantic, warnings as errors): a lookup by device name falls back exact → alias → match
 * pattern → compute capability → model, and each answer says which basis it used. Built from
 * tests/golden: the host's measured results and predicted ones for h100 and a100; the catalog's
 * other GPU profiles (h200, l40s, rtx-4090) are answered by model. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "qbench_dispatch_fleet.h"

static int fails;
#define CHECK(c)                                                                                                  \
    do {                                                                                                          \
        if (!(c)) {                                                                                               \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c);                                                   \
            fails++;                                                                                              \
        }                                                                                                         \
    } while (0)

static int index_of(const char *profile)
{
    int i;
    for (i = 0; i < QBD_FLEET_DEVICE_COUNT; i++)
        if (!strcmp(qbd_fleet_devices[i].profile, profile))
            return i;
    return -1;
}

static void expect(const char *name, int maj, int min, const char *profile, int basis)
{
    int b = -7, i = qbd_fleet_find(name, maj, min, &b);
    printf("%-26s cc %2d.%-2d -> %-16s by %s\n", name, maj, min, i >= 0 ? qbd_fleet_devices[i].profile : "(none)",
           qbd_fleet_basis_names[b >= 0 && b <= QBD_FLEET_BY_MODEL ? b : 0]);
    CHECK(b == basis);
    CHECK(profile ? i == index_of(profile) : i == -1);
}

int main(int argc, char **argv)
{
    const int h100 = index_of("h100-sxm5-80gb"), a100 = index_of("a100-sxm4-80gb"), l40s = index_of("l40s");
    const unsigned every = (1u << QBD_FLEET_SCHEME_COUNT) - 1;
    qbd_fleet_choice c, d;
    qbd_h100_sxm5_80gb_choice h;
    int b;
    CHECK(h100 >= 0 && a100 >= 0 && l40s >= 0 && index_of("host") >= 0);
    CHECK(qbd_fleet_devices[l40s].nearest == h100); /* cc 8.9 is nearer 9.0 than 8.0 */

    expect("h100-sxm5-80gb", 9, 0, "h100-sxm5-80gb", QBD_FLEET_BY_EXACT);
    expect("host", -1, -1, "host", QBD_FLEET_BY_EXACT);
    expect("A100", 8, 0, "a100-sxm4-80gb", QBD_FLEET_BY_ALIAS);
    /* the CUDA runtime's name: neither a profile's name nor an alias, only its family pattern */
    expect("NVIDIA H100 80GB HBM3", 9, 0, "h100-sxm5-80gb", QBD_FLEET_BY_MATCH);
    expect("NVIDIA A100-SXM4-80GB", 8, 0, "a100-sxm4-80gb", QBD_FLEET_BY_MATCH);
    /* another H100 part: no pattern fits, its compute capability does */
    expect("NVIDIA H100 PCIe", 9, 0, "h100-sxm5-80gb", QBD_FLEET_BY_CC);
    /* a known profile that was not swept: its own ceilings, h100's efficiencies */
    expect("NVIDIA L40S", 8, 9, "l40s", QBD_FLEET_BY_MODEL);
    /* an unknown name with a compute capability: the nearest swept GPU's model */
    expect("Future GPU", 8, 6, "h100-sxm5-80gb", QBD_FLEET_BY_MODEL);
    expect("Older GPU", 7, 5, "a100-sxm4-80gb", QBD_FLEET_BY_MODEL);
    /* nothing fits: none, never a silent default */
    expect("Some CPU", -1, -1, NULL, QBD_FLEET_BY_NONE);
    CHECK(!qbd_fleet_lookup(-1, QBD_FLEET_BY_NONE, QBD_FLEET_W4A16, 0, 16, 4096, 4096, 128, &c));

    /* a match answers exactly as the device's own table */
    CHECK(qbd_h100_sxm5_80gb_lookup(QBD_H100_SXM5_80GB_W4A16, 0, 16, 4096, 4096, 128, &h));
    CHECK(qbd_fleet_lookup(h100, QBD_FLEET_BY_MATCH, QBD_FLEET_W4A16, 0, 16, 4096, 4096, 128, &c));
    CHECK(c.device == h100 && c.basis == QBD_FLEET_BY_MATCH && c.time_s == h.time_s && c.source == h.source);
    CHECK(!strcmp(c.kernel_name, h.kernel_name) && !strcmp(c.config, h.config));
    /* by model: h100's configuration, l40s's predicted time */
    CHECK(qbd_fleet_lookup(l40s, QBD_FLEET_BY_MODEL, QBD_FLEET_W4A16, 0, 16, 4096, 4096, 128, &c));
    CHECK(c.device == l40s && c.basis == QBD_FLEET_BY_MODEL && c.source == QBD_FLEET_MODEL);
    CHECK(!strcmp(c.config, h.config));
    CHECK(c.time_s > 0 && c.time_s == qbd_l40s_predict(QBD_FLEET_W4A16, 0, 16, 4096, 4096, 128));
    CHECK(c.time_s != h.time_s); /* another device's ceilings */
    printf("w4a16 M=16 4096x4096: h100 %.3g us (table), l40s %.3g us (model)\n", h.time_s * 1e6, c.time_s * 1e6);
    /* best scheme: a swept device's own answer, or the lowest predicted time */
    CHECK(qbd_fleet_best_scheme(h100, QBD_FLEET_BY_CC, every, 0, 1, 4096, 14336, 128, &c));
    {
        qbd_h100_sxm5_80gb_choice own;
        CHECK(qbd_h100_sxm5_80gb_best_scheme(every, 0, 1, 4096, 14336, 128, &own) && own.scheme == c.scheme);
    }
    CHECK(qbd_fleet_best_scheme(l40s, QBD_FLEET_BY_MODEL, every, 0, 1, 4096, 14336, 128, &c));
    for (b = 0; b < QBD_FLEET_SCHEME_COUNT; b++)
        if (qbd_fleet_lookup(l40s, QBD_FLEET_BY_MODEL, b, 0, 1, 4096, 14336, 128, &d))
            CHECK(c.time_s <= d.time_s);

    /* the JSON says the same */
    if (argc > 1) {
        json_error_t je;
        json_t *doc = json_load_file(argv[1], 0, &je), *devs = json_object_get(doc, "devices");
        CHECK(json_integer_value(json_object_get(doc, "qbench_fleet")) == 1);
        CHECK(json_array_size(devs) == (size_t)QBD_FLEET_DEVICE_COUNT);
        for (b = 0; b < QBD_FLEET_DEVICE_COUNT; b++) {
            json_t *e = json_array_get(devs, (size_t)b);
            CHECK(!strcmp(json_string_value(json_object_get(e, "profile")), qbd_fleet_devices[b].profile));
            CHECK(!strcmp(json_string_value(json_object_get(e, "answered_by")),
                          qbd_fleet_devices[b].nearest >= 0 ? "model" : "table"));
            CHECK(!strcmp(json_string_value(json_object_get(e, "match")), qbd_fleet_devices[b].match));
        }
        CHECK(!strcmp(json_string_value(json_object_get(json_array_get(devs, (size_t)l40s), "nearest")),
                      "h100-sxm5-80gb"));
        json_decref(doc);
    }
    printf("%s\n", fails ? "FAILED" : "all fleet lookups as expected");
    return fails != 0;
}
