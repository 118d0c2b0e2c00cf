// Micro-benchmarks of the client's output path (Google Benchmark): one
// result of an echo job written as a JSON line, by the CLI's writer and by
// protobuf's reflective MessageToJsonString, which it replaced.
#include <benchmark/benchmark.h>

#include <string>

#include "client/job_result_json.h"
#include "google/protobuf/util/json_util.h"

namespace {

jobgroup::v1::JobResult EchoResult() {
  jobgroup::v1::JobResult r;
  r.set_index(48213);
  r.set_id("record-48213");
  r.set_outcome(jobgroup::v1::JOB_OUTCOME_SUCCEEDED);
  r.set_output("hello, world");
  r.set_attempts(1);
  r.mutable_queue_time()->set_nanos(41'000);
  r.mutable_run_time()->set_nanos(2'000);
  return r;
}

void BM_JobResultJson(benchmark::State& state) {
  jobgroup::v1::JobResult r = EchoResult();
  std::string line;
  for (auto _ : state) {
    line.clear();
    jobgroup::client::AppendJobResultJson(r, &line);
    benchmark::DoNotOptimize(line.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_JobResultJson);

void BM_MessageToJsonString(benchmark::State& state) {
  jobgroup::v1::JobResult r = EchoResult();
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string line;
  for (auto _ : state) {
    line.clear();
    (void)google::protobuf::util::MessageToJsonString(r, &line, options);
    benchmark::DoNotOptimize(line.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MessageToJsonString);

}  // namespace

BENCHMARK_MAIN();
