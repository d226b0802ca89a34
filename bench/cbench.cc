// cbench: the C API of bench/cbench.h over Google Benchmark. The one C++ file in qbench; it
// only wraps libbenchmark.
#include "bench/cbench.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

namespace {

// Forwards everything to Google Benchmark's JSON reporter (writing into a string) and keeps
// the runs for the C struct.
class Capture : public benchmark::BenchmarkReporter {
  public:
    explicit Capture(std::ostringstream *json) {
        json_.SetOutputStream(json);
        json_.SetErrorStream(&errors_);
    }
    bool ReportContext(const Context &c) override { return json_.ReportContext(c); }
    void ReportRuns(const std::vector<Run> &runs) override {
        for (const Run &r : runs)
            runs_.push_back(r);
        json_.ReportRuns(runs);
    }
    void Finalize() override { json_.Finalize(); }
    std::vector<Run> runs_;

  private:
    benchmark::JSONReporter json_;
    std::ostringstream errors_;
};

} // namespace

// One round: Google Benchmark's repetitions of the callback.
static int run_round(const char *name, cbench_fn fn, void *ctx, const cbench_options *opt, cbench_result *out,
                     qc_msgs *err) {
    std::memset(out, 0, sizeof *out);
    const bool manual = opt->manual_time != 0;
    auto *b = benchmark::RegisterBenchmark(name, [fn, ctx, manual](benchmark::State &st) {
        for (auto _ : st) {
            double t = fn(ctx);
            if (manual)
                st.SetIterationTime(t);
        }
    });
    b->Repetitions(std::max(1, opt->repetitions))->MinTime(opt->min_time > 0 ? opt->min_time : 0.1);
    if (manual)
        b->UseManualTime();
    else
        b->UseRealTime();
    b->ComputeStatistics("min", [](const std::vector<double> &v) { return *std::min_element(v.begin(), v.end()); });

    std::ostringstream json;
    Capture capture(&json);
    benchmark::RunSpecifiedBenchmarks(&capture);
    benchmark::ClearRegisteredBenchmarks();

    // Per-call times of the repetitions, and Google Benchmark's aggregates over them (median,
    // mean, stddev, cv and the "min" registered above). An aggregate's accumulated time is the
    // statistic of the repetitions' accumulated times; every repetition runs the same
    // iteration count, so dividing by it gives seconds per call (cv is a ratio).
    std::vector<double> per_call;
    bool have[5] = {false, false, false, false, false};
    double agg[5] = {0, 0, 0, 0, 0};
    static const char *const names[5] = {"median", "mean", "stddev", "cv", "min"};
    for (const auto &r : capture.runs_) {
        if (r.error_occurred) {
            qc_msgs_addf(err, "benchmark %s: %s", name, r.error_message.c_str());
            return QC_ERUNTIME;
        }
        if (r.iterations <= 0)
            continue;
        if (r.run_type == benchmark::BenchmarkReporter::Run::RT_Iteration) {
            per_call.push_back(r.real_accumulated_time / static_cast<double>(r.iterations));
            out->iterations = static_cast<int64_t>(r.iterations);
            continue;
        }
        for (int i = 0; i < 5; i++)
            if (r.aggregate_name == names[i]) {
                have[i] = true;
                agg[i] = r.aggregate_unit == benchmark::kPercentage
                             ? r.real_accumulated_time
                             : r.real_accumulated_time / static_cast<double>(r.iterations);
            }
    }
    if (per_call.empty()) {
        qc_msgs_addf(err, "benchmark %s: Google Benchmark reported no runs", name);
        return QC_ERUNTIME;
    }
    out->repetitions = static_cast<int>(per_call.size());
    if (have[0] && have[1] && have[2] && have[3] && have[4]) {
        out->median_s = agg[0];
        out->mean_s = agg[1];
        out->stddev_s = agg[2];
        out->cv = agg[3];
        out->min_s = agg[4];
    } else { // one repetition: Google Benchmark makes no aggregates; the statistics of one value
        out->median_s = out->mean_s = out->min_s = per_call[0];
        out->stddev_s = out->cv = 0;
    }
    std::string text = json.str();
    out->json = static_cast<char *>(std::malloc(text.size() + 1));
    if (!out->json) {
        qc_msgs_addf(err, "out of memory");
        return QC_ERUNTIME;
    }
    std::memcpy(out->json, text.c_str(), text.size() + 1);
    return QC_OK;
}

static double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Rounds until one's cv is within max_cv, or the next would overrun the budget (NVBench's
// stdrel idea): a transient disturbance costs a round, not the point. The round with the
// lowest cv stands. The default budget is counted in rounds as long as the first one took, so
// that a point of slow calls (one call a repetition, longer than min_time) gets its rounds too.
extern "C" int cbench_run(const char *name, cbench_fn fn, void *ctx, const cbench_options *opt,
                          cbench_result *out, qc_msgs *err) {
    const double t0 = now_s();
    cbench_result best;
    int rounds = 0, total = 0;
    double budget = 0;
    for (;;) {
        cbench_result r;
        int rc = run_round(name, fn, ctx, opt, &r, err);
        if (rc) {
            if (rounds)
                cbench_result_free(&best);
            cbench_result_free(&r);
            return rc;
        }
        rounds++;
        total += r.repetitions;
        if (rounds == 1 || r.cv < best.cv) {
            if (rounds > 1)
                cbench_result_free(&best);
            best = r;
        } else {
            cbench_result_free(&r);
        }
        const double spent = now_s() - t0;
        if (rounds == 1)
            budget = opt->budget_s > 0 ? opt->budget_s : CBENCH_DEFAULT_ROUNDS * spent;
        if (!(opt->max_cv > 0) || best.cv <= opt->max_cv || rounds >= CBENCH_MAX_ROUNDS ||
            spent + spent / rounds > budget)
            break;
    }
    *out = best;
    out->rounds = rounds;
    out->repetitions_all = total;
    out->noisy = opt->max_cv > 0 && best.cv > opt->max_cv;
    return QC_OK;
}

extern "C" void cbench_result_free(cbench_result *r) {
    std::free(r->json);
    r->json = nullptr;
}
