// cbench: the C API of bench/cbench.h over Google Benchmark. The one C++ file in qbench; it
// only wraps libbenchmark.
#include "bench/cbench.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
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

extern "C" int cbench_run(const char *name, cbench_fn fn, void *ctx, const cbench_options *opt,
                          cbench_result *out, qc_msgs *err) {
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

    std::vector<double> per_call;
    for (const auto &r : capture.runs_) {
        if (r.error_occurred) {
            qc_msgs_addf(err, "benchmark %s: %s", name, r.error_message.c_str());
            return QC_ERUNTIME;
        }
        if (r.run_type != benchmark::BenchmarkReporter::Run::RT_Iteration || r.iterations <= 0)
            continue;
        per_call.push_back(r.real_accumulated_time / static_cast<double>(r.iterations));
        out->iterations = static_cast<int64_t>(r.iterations);
    }
    if (per_call.empty()) {
        qc_msgs_addf(err, "benchmark %s: Google Benchmark reported no runs", name);
        return QC_ERUNTIME;
    }
    // The same statistics Google Benchmark aggregates, computed here from the repetitions so
    // that they exist for a single repetition too.
    std::vector<double> v = per_call;
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    double mean = 0, sq = 0;
    for (double x : v)
        mean += x / static_cast<double>(n);
    for (double x : v)
        sq += (x - mean) * (x - mean);
    out->repetitions = static_cast<int>(n);
    out->median_s = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    out->mean_s = mean;
    out->min_s = v[0];
    out->stddev_s = n > 1 ? std::sqrt(sq / static_cast<double>(n - 1)) : 0;
    out->cv = mean > 0 ? out->stddev_s / mean : 0;
    std::string text = json.str();
    out->json = static_cast<char *>(std::malloc(text.size() + 1));
    if (!out->json) {
        qc_msgs_addf(err, "out of memory");
        return QC_ERUNTIME;
    }
    std::memcpy(out->json, text.c_str(), text.size() + 1);
    return QC_OK;
}

extern "C" void cbench_result_free(cbench_result *r) {
    std::free(r->json);
    r->json = nullptr;
}
