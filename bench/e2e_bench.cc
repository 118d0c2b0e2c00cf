// e2e_bench: end-to-end figures for BENCHMARKS.md, against a running
// jobgroupd (a benchmark, not a test: it prints figures and asserts
// nothing but that calls succeed).
//
//   e2e_bench echo    --target=H:P [--jobs=10000] [--calls=200]
//   [--concurrency=2] e2e_bench sleeps  --target=H:P [--jobs=100000] [--ms=100]
//   e2e_bench threads --target=H:P --pid=PID [--calls=2000] [--jobs=10]
//   [--ms=200]
//
// Output: one line of key=value figures per run.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "jobgroup/v1/jobgroup.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "jobgroupd address");
ABSL_FLAG(int, jobs, 10000, "jobs per call");
ABSL_FLAG(int, calls, 200, "calls in all");
ABSL_FLAG(int, concurrency, 2, "calls in flight at once");
ABSL_FLAG(int, ms, 100, "sleep per job (sleeps, threads)");
ABSL_FLAG(int, pid, 0, "server pid, to read its thread count (threads)");

namespace {

using Clock = std::chrono::steady_clock;
using jobgroup::v1::JobService;
using jobgroup::v1::RunBatchRequest;
using jobgroup::v1::RunBatchResponse;

std::shared_ptr<grpc::Channel> Channel(int index) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(512 << 20);
  args.SetMaxSendMessageSize(512 << 20);
  args.SetInt("grpc.channel_id", index);  // Distinct connections.
  return grpc::CreateCustomChannel(absl::GetFlag(FLAGS_target),
                                   grpc::InsecureChannelCredentials(), args);
}

int ProcThreads(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

long ProcHwmKb(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

int Echo() {
  int jobs = absl::GetFlag(FLAGS_jobs), calls = absl::GetFlag(FLAGS_calls);
  int conc = absl::GetFlag(FLAGS_concurrency);
  RunBatchRequest req;
  for (int i = 0; i < jobs; ++i) {
    auto* j = req.add_jobs();
    j->set_kind("echo");
    j->set_payload("x");
  }
  std::atomic<int> next{0}, failed{0};
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < conc; ++t) {
    threads.emplace_back([&, t] {
      auto stub = JobService::NewStub(Channel(t));
      while (next.fetch_add(1) < calls) {
        grpc::ClientContext ctx;
        RunBatchResponse resp;
        grpc::Status s = stub->RunBatch(&ctx, req, &resp);
        if (!s.ok() ||
            resp.summary().succeeded() != static_cast<uint64_t>(jobs)) {
          ++failed;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  printf(
      "echo jobs_per_call=%d calls=%d concurrency=%d seconds=%.3f "
      "jobs_per_second=%.0f failed_calls=%d\n",
      jobs, calls, conc, secs, jobs * double(calls) / secs, failed.load());
  return failed > 0;
}

int Sleeps() {
  int jobs = absl::GetFlag(FLAGS_jobs), ms = absl::GetFlag(FLAGS_ms);
  int pid = absl::GetFlag(FLAGS_pid);
  RunBatchRequest req;
  req.mutable_options()->set_max_concurrency(jobs);
  for (int i = 0; i < jobs; ++i) {
    auto* j = req.add_jobs();
    j->set_kind("sleep");
    (*j->mutable_params())["ms"] = std::to_string(ms);
  }
  auto stub = JobService::NewStub(Channel(0));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  RunBatchResponse resp;
  auto start = Clock::now();
  grpc::Status s = stub->RunBatch(&ctx, req, &resp);
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  printf(
      "sleeps jobs=%d ms=%d wall_seconds=%.3f succeeded=%llu "
      "server_peak_rss_mb=%.1f status=%d\n",
      jobs, ms, secs,
      static_cast<unsigned long long>(resp.summary().succeeded()),
      pid ? ProcHwmKb(pid) / 1024.0 : -1.0, s.error_code());
  return !s.ok();
}

int Threads() {
  int calls = absl::GetFlag(FLAGS_calls), jobs = absl::GetFlag(FLAGS_jobs);
  int ms = absl::GetFlag(FLAGS_ms), pid = absl::GetFlag(FLAGS_pid);
  RunBatchRequest req;
  for (int i = 0; i < jobs; ++i) {
    auto* j = req.add_jobs();
    j->set_kind("sleep");
    (*j->mutable_params())["ms"] = std::to_string(ms);
  }
  auto stub = JobService::NewStub(Channel(0));
  std::vector<grpc::ClientContext> ctxs(calls);
  std::vector<RunBatchResponse> resps(calls);
  std::atomic<int> done{0}, ok{0};
  int before = ProcThreads(pid);
  auto start = Clock::now();
  for (int c = 0; c < calls; ++c) {
    ctxs[c].set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(60));
    stub->async()->RunBatch(&ctxs[c], &req, &resps[c], [&](grpc::Status s) {
      ok += s.ok();
      ++done;
    });
  }
  int peak = 0;
  while (done < calls) {
    peak = std::max(peak, ProcThreads(pid));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  printf(
      "threads calls=%d jobs_per_call=%d ms=%d wall_seconds=%.3f ok=%d "
      "server_threads_before=%d server_threads_peak=%d\n",
      calls, jobs, ms, secs, ok.load(), before, peak);
  return ok != calls;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  std::string mode = args.size() > 1 ? args[1] : "echo";
  if (mode == "echo") return Echo();
  if (mode == "sleeps") return Sleeps();
  if (mode == "threads") return Threads();
  fprintf(stderr, "usage: e2e_bench echo|sleeps|threads --target=H:P ...\n");
  return 2;
}
