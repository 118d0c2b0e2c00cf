// Implementation of ServerMetrics.
#include "server/service/metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "server/core/outcome_ledger.h"
#include "server/service/listen_error.h"
#include "server/service/sharded_family.h"
#include "server/service/status_http_server.h"

namespace jobgroup {
namespace {

using prometheus::Histogram;

// RPC latency from 100 µs to 5 minutes, with an edge at the 1 s SLO.
const Histogram::BucketBoundaries kRpcBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25,   0.5,     1,      2.5,   5,      10,    30,   60,    120,  300};
// Job run and wait times, up to ten minutes; edge at the 1 s queue SLO.
const Histogram::BucketBoundaries kJobBuckets = {
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1,      2.5,    5,     10,    30,   60,    120,  300, 600};
const Histogram::BucketBoundaries kBatchSizeBuckets = {
    1, 10, 100, 1000, 10000, 100000, 1000000};

// grpc-ecosystem spells the codes as Go's codes.Code.String() does.
const char* const kCodeNames[17] = {"OK",
                                    "Canceled",
                                    "Unknown",
                                    "InvalidArgument",
                                    "DeadlineExceeded",
                                    "NotFound",
                                    "AlreadyExists",
                                    "PermissionDenied",
                                    "ResourceExhausted",
                                    "FailedPrecondition",
                                    "Aborted",
                                    "OutOfRange",
                                    "Unimplemented",
                                    "Internal",
                                    "Unavailable",
                                    "DataLoss",
                                    "Unauthenticated"};
const char* const kMethodTypes[kMethodCount] = {"unary", "server_stream",
                                                "bidi_stream", "unary"};
// The result label of jobgroup_batches_total.
const char* const kBatchResults[4] = {"ok", "failed", "deadline_exceeded",
                                      "cancelled"};

prometheus::MetricFamily Gauge(std::string name, std::string help) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = prometheus::MetricType::Gauge;
  return f;
}

void AddValue(prometheus::MetricFamily& f, double v,
              std::vector<prometheus::ClientMetric::Label> labels = {}) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  if (f.type == prometheus::MetricType::Counter) {
    m.counter.value = v;
  } else {
    m.gauge.value = v;
  }
  f.metric.push_back(std::move(m));
}

struct ProcStat {
  double cpu_seconds = 0;
  double start_time = 0;
  double threads = 0;
  double rss_bytes = 0;
  double open_fds = 0;
};

ProcStat ReadProcStat() {
  ProcStat out;
  long ticks = sysconf(_SC_CLK_TCK);
  std::ifstream stat("/proc/self/stat");
  std::string line;
  std::getline(stat, line);
  // Fields after the command name, which may hold spaces: skip past ')'.
  size_t close = line.rfind(')');
  if (close != std::string::npos && ticks > 0) {
    std::vector<absl::string_view> f =
        absl::StrSplit(absl::string_view(line).substr(close + 2), ' ');
    // f[0] is field 3 (state): field N is f[N - 3].
    double utime = 0, stime = 0, threads = 0, start = 0;
    if (f.size() > 19 && absl::SimpleAtod(f[11], &utime) &&
        absl::SimpleAtod(f[12], &stime) && absl::SimpleAtod(f[17], &threads) &&
        absl::SimpleAtod(f[19], &start)) {
      out.cpu_seconds = (utime + stime) / ticks;
      out.threads = threads;
      std::ifstream pstat("/proc/stat");
      std::string l;
      while (std::getline(pstat, l)) {
        double btime;
        if (l.rfind("btime ", 0) == 0 &&
            absl::SimpleAtod(l.substr(6), &btime)) {
          out.start_time = btime + start / ticks;
        }
      }
    }
  }
  std::ifstream statm("/proc/self/statm");
  double size = 0, resident = 0;
  if (statm >> size >> resident) resident *= sysconf(_SC_PAGESIZE);
  out.rss_bytes = resident;
  if (DIR* d = opendir("/proc/self/fd")) {
    int n = 0;
    while (readdir(d) != nullptr) ++n;
    closedir(d);
    out.open_fds = n - 3;  // ".", ".." and the directory's own fd.
  }
  return out;
}

}  // namespace

const char* MethodName(Method m) {
  switch (m) {
    case Method::kRunBatch:
      return "RunBatch";
    case Method::kStreamBatch:
      return "StreamBatch";
    case Method::kProcess:
      return "Process";
    case Method::kGetServerInfo:
      return "GetServerInfo";
  }
  return "unknown";
}

// Reads live values at scrape time.
class ServerMetrics::LiveCollector : public prometheus::Collectable {
 public:
  LiveCollector(LiveSources live, std::string version)
      : live_(live), version_(std::move(version)) {}
  // Before the first scrape only.
  void set_executor(const Executor* d) { live_.executor = d; }

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out;
    auto add = [&](const char* name, const char* help, double v) {
      out.push_back(Gauge(name, help));
      AddValue(out.back(), v);
    };
    if (live_.workers) {
      add("jobgroup_queue_depth",
          "Jobs in the ready queue (at most its capacity; parked not "
          "included).",
          live_.workers->queue_depth());
      add("jobgroup_queue_parked",
          "Jobs parked behind the full ready queue, waiting for a slot.",
          live_.workers->queue_parked());
      add("jobgroup_queue_capacity", "Capacity of the ready queue.",
          live_.workers->queue_capacity());
      add("jobgroup_workers_busy", "Workers running a handler.",
          live_.workers->busy());
      add("jobgroup_workers", "Worker threads.", live_.workers->workers());
    }
    if (live_.executor) {
      add("jobgroup_handlers_abandoned",
          "Handlers still running after their job was reported cancelled "
          "(ignoring cancellation).",
          live_.executor->abandoned_handlers());
    }
    if (live_.jobs_in_flight) {
      add("jobgroup_jobs_in_flight",
          "Jobs accepted and not yet given their outcome.",
          live_.jobs_in_flight->load());
    }
    if (live_.streams) {
      add("jobgroup_open_streams",
          "Streams open now: job-running calls and health watchers "
          "(--max_open_streams caps them).",
          live_.streams->open());
      add("jobgroup_max_open_streams", "--max_open_streams.",
          live_.streams->limit());
    }
    if (live_.memory) {
      add("jobgroup_memory_budget_bytes",
          "Bytes calls may hold: parsed requests, jobs streams have read, "
          "outputs not yet sent (3/4 of --memory_budget_bytes).",
          live_.memory->limit());
      add("jobgroup_memory_in_use_bytes",
          "Bytes calls hold now (may pass the budget by outputs of jobs "
          "that ran; new requests are then refused).",
          live_.memory->used());
    }
    if (live_.adaptive) {
      add("jobgroup_adaptive_limit",
          "Jobs in flight past which new calls are refused now "
          "(--adaptive_limit; at most --max_inflight_jobs).",
          live_.adaptive->limit());
      auto delay = Gauge("jobgroup_adaptive_limit_queue_delay_seconds",
                         "Queueing delay of calls (their first job's wait "
                         "for a permit and a worker) that --adaptive_limit "
                         "follows: the last interval's (short) and the "
                         "normal (long).");
      AddValue(delay, absl::ToDoubleSeconds(live_.adaptive->short_term()),
               {{"window", "short"}});
      AddValue(delay, absl::ToDoubleSeconds(live_.adaptive->long_term()),
               {{"window", "long"}});
      out.push_back(std::move(delay));
    }
    if (live_.backends) {
      auto cap = Gauge("jobgroup_backend_capacity", "Permits of each backend.");
      auto use = Gauge("jobgroup_backend_in_use", "Permits held now.");
      auto wait =
          Gauge("jobgroup_backend_waiting", "Jobs waiting for a permit.");
      for (const Semaphore* b : live_.backends->List()) {
        std::vector<prometheus::ClientMetric::Label> l = {
            {"backend", b->name()}};
        AddValue(cap, b->capacity(), l);
        AddValue(use, b->in_use(), l);
        AddValue(wait, b->waiting(), l);
      }
      out.push_back(std::move(cap));
      out.push_back(std::move(use));
      out.push_back(std::move(wait));
    }
    {
      // Bugs of the job lifecycle: both stay 0 (outcome_ledger.h).
      LifecycleErrors e = GetLifecycleErrors();
      prometheus::MetricFamily f;
      f.name = "jobgroup_lifecycle_errors_total";
      f.help =
          "Outcomes refused as a job's second (duplicate) and jobs found "
          "without one at the end of their call (lost); always 0 unless "
          "the server has a bug.";
      f.type = prometheus::MetricType::Counter;
      AddValue(f, e.duplicate_outcomes, {{"error", "duplicate"}});
      AddValue(f, e.lost_outcomes, {{"error", "lost"}});
      out.push_back(std::move(f));
    }
    ProcStat p = ReadProcStat();
    prometheus::MetricFamily cpu;
    cpu.name = "process_cpu_seconds_total";
    cpu.help = "User and system CPU time spent in seconds.";
    cpu.type = prometheus::MetricType::Counter;
    AddValue(cpu, p.cpu_seconds);
    out.push_back(std::move(cpu));
    add("process_resident_memory_bytes", "Resident memory size in bytes.",
        p.rss_bytes);
    add("process_open_fds", "Number of open file descriptors.", p.open_fds);
    add("process_start_time_seconds",
        "Start time of the process since the Unix epoch in seconds.",
        p.start_time);
    add("process_threads", "Number of OS threads in the process.", p.threads);
    out.push_back(Gauge("jobgroup_build_info", "Build information; value 1."));
    AddValue(out.back(), 1, {{"version", version_}});
    return out;
  }

 private:
  LiveSources live_;
  const std::string version_;
};

ServerMetrics::ServerMetrics(const KindRegistry& kinds, LiveSources live,
                             const std::string& version)
    : registry_(std::make_shared<prometheus::Registry>()),
      live_(std::make_shared<LiveCollector>(live, version)) {
  prometheus::Registry& r = *registry_;
  auto& started = prometheus::BuildCounter()
                      .Name("grpc_server_started_total")
                      .Help("RPCs started on the server.")
                      .Register(r);
  auto& handled = prometheus::BuildCounter()
                      .Name("grpc_server_handled_total")
                      .Help("RPCs completed on the server, by code.")
                      .Register(r);
  auto& handling = prometheus::BuildHistogram()
                       .Name("grpc_server_handling_seconds")
                       .Help("Time from an RPC's start to its status.")
                       .Register(r);
  auto& received = prometheus::BuildCounter()
                       .Name("grpc_server_msg_received_total")
                       .Help("Stream messages received.")
                       .Register(r);
  auto& sent = prometheus::BuildCounter()
                   .Name("grpc_server_msg_sent_total")
                   .Help("Stream messages sent.")
                   .Register(r);
  auto& batches = prometheus::BuildCounter()
                      .Name("jobgroup_batches_total")
                      .Help("Calls that ran jobs, by how they ended.")
                      .Register(r);
  auto& batch_jobs = prometheus::BuildHistogram()
                         .Name("jobgroup_batch_jobs")
                         .Help("Jobs per call.")
                         .Register(r);
  auto& batch_duration = prometheus::BuildHistogram()
                             .Name("jobgroup_batch_duration_seconds")
                             .Help("Wall time of calls that ran jobs.")
                             .Register(r);
  auto& expiries = prometheus::BuildCounter()
                       .Name("jobgroup_deadline_expiries_total")
                       .Help(
                           "Calls whose deadline expired before every job "
                           "finished.")
                       .Register(r);
  auto& failfast = prometheus::BuildCounter()
                       .Name("jobgroup_failfast_cancellations_total")
                       .Help("Calls cancelled by a failed job (FAIL_FAST).")
                       .Register(r);
  for (int i = 0; i < kMethodCount; ++i) {
    Method m = static_cast<Method>(i);
    prometheus::Labels l = {{"grpc_service", "jobgroup.v1.JobService"},
                            {"grpc_method", MethodName(m)},
                            {"grpc_type", kMethodTypes[i]}};
    MethodSeries& s = methods_[i];
    s.started = &started.Add(l);
    s.handling = &handling.Add(l, kRpcBuckets);
    s.received = &received.Add(l);
    s.sent = &sent.Add(l);
    for (int c = 0; c < 17; ++c) {
      prometheus::Labels lc = l;
      lc["grpc_code"] = kCodeNames[c];
      s.handled[c] = &handled.Add(lc);
    }
    if (m == Method::kGetServerInfo) continue;
    prometheus::Labels lm = {{"method", MethodName(m)}};
    for (int b = 0; b < 4; ++b) {
      prometheus::Labels lb = lm;
      lb["result"] = kBatchResults[b];
      s.batches[b] = &batches.Add(lb);
    }
    s.batch_jobs = &batch_jobs.Add(lm, kBatchSizeBuckets);
    s.batch_duration = &batch_duration.Add(lm, kRpcBuckets);
    s.deadline_expiries = &expiries.Add(lm);
    s.failfast = &failfast.Add(lm);
  }

  // Per job: sharded families, exposed as the registry's would be.
  auto jobs = std::make_shared<ShardedFamily<ShardedCounter>>(
      "jobgroup_jobs_total", "Jobs by kind and outcome.");
  auto run = std::make_shared<ShardedFamily<ShardedHistogram>>(
      "jobgroup_job_run_seconds", "Time a job's handler ran.");
  auto queue_wait = std::make_shared<ShardedFamily<ShardedHistogram>>(
      "jobgroup_job_queue_wait_seconds",
      "Time from a job's start to its handler's start (permit and queue "
      "waits).");
  auto attempts = std::make_shared<ShardedFamily<ShardedCounter>>(
      "jobgroup_job_attempts_total",
      "Attempts made, retries and fallbacks included.");
  auto backend_wait = std::make_shared<ShardedFamily<ShardedHistogram>>(
      "jobgroup_backend_wait_seconds",
      "Time waited for a backend permit, per permit taken: one per job, or "
      "one per 500 us slice of a run of synchronous jobs.");
  sharded_ = {jobs, run, queue_wait, attempts, backend_wait};
  auto& retries = prometheus::BuildCounter()
                      .Name("jobgroup_job_retries_total")
                      .Help("Retries of failed attempts.")
                      .Register(r);
  auto& fallbacks = prometheus::BuildCounter()
                        .Name("jobgroup_fallbacks_served_total")
                        .Help("Jobs served by a fallback.")
                        .Register(r);
  auto add_kind = [&](const std::string& key, const std::string& label) {
    prometheus::Labels lk = {{"kind", label}};
    KindSeries& s = kinds_[key];
    for (int o = 0; o < kJobOutcomeCount; ++o) {
      prometheus::Labels lo = lk;
      lo["outcome"] = std::string(JobOutcomeName(static_cast<JobOutcome>(o)));
      s.outcomes[o] = &jobs->Add(lo);
    }
    s.run = &run->Add(lk, kJobBuckets);
    s.queue_wait = &queue_wait->Add(lk, kJobBuckets);
    s.attempts = &attempts->Add(lk);
    s.retries = &retries.Add(lk);
    s.fallbacks_served = &fallbacks.Add(lk);
  };
  for (const JobKind* k : kinds.List()) add_kind(k->info.name, k->info.name);
  // Jobs refused before their kind was known (a Process job naming no
  // registered kind) count under kind="unknown".
  add_kind("", "unknown");
  // kinds_ is complete: its values no longer move.
  for (const JobKind* k : kinds.List()) {
    kinds_by_kind_.emplace_back(k, &kinds_.find(k->info.name)->second);
  }

  if (live.backends) {
    for (const Semaphore* b : live.backends->List()) {
      ShardedHistogram* h =
          &backend_wait->Add({{"backend", b->name()}}, kJobBuckets);
      backend_wait_.emplace_back(b, h);
      backend_wait_by_name_[b->name()] = h;
    }
  }
  auto& rejected = prometheus::BuildCounter()
                       .Name("jobgroup_rejected_total")
                       .Help("Calls refused before running, by reason.")
                       .Register(r);
  for (const char* reason :
       {"inflight_limit", "adaptive_limit", "memory_budget", "draining",
        "invalid_argument", "unauthenticated", "open_streams", "stream_idle"}) {
    rejected_[reason] = &rejected.Add({{"reason", reason}});
  }
  rejected_other_ = &rejected.Add({{"reason", "other"}});
  memory_waits_ = &prometheus::BuildCounter()
                       .Name("jobgroup_stream_memory_waits_total")
                       .Help(
                           "Times a Process stream stopped reading until the "
                           "memory budget had room for its next message.")
                       .Register(r)
                       .Add({});
}

// The server stops at once (StopListenerAtOnce), before the source goes.
ServerMetrics::~ServerMetrics() { http_.reset(); }

absl::Status ServerMetrics::Serve(const std::string& address) {
  // In the order prometheus-cpp's Exposer served them (its own exposer_*
  // families come first, from StatusHttpServer).
  std::vector<std::weak_ptr<prometheus::Collectable>> collectables;
  collectables.push_back(registry_);
  for (const auto& family : sharded_) collectables.push_back(family);
  collectables.push_back(live_);
  http_ = StatusHttpServer::Start(
      address, std::move(collectables),
      [this]() -> std::optional<admin::v1::ServerSnapshot> {
        // Held while the source runs: SetStatusSource() waits for it.
        absl::ReaderMutexLock lock(&status_mu_);
        if (!status_source_) return std::nullopt;
        return status_source_();
      });
  if (!http_) {
    // civetweb does not say what went wrong.
    return ListenError("--metrics_listen", address);
  }
  enabled_ = true;
  return absl::OkStatus();
}

void ServerMetrics::SetStatusSource(
    std::function<admin::v1::ServerSnapshot()> source) {
  absl::MutexLock lock(&status_mu_);
  status_source_ = std::move(source);
}

void ServerMetrics::WatchExecutor(const Executor* executor) {
  live_->set_executor(executor);
}

int ServerMetrics::port() const {
  if (!http_) return 0;
  std::vector<int> ports = http_->ports();
  return ports.empty() ? 0 : ports[0];
}

void ServerMetrics::CallStarted(Method m) {
  if (!enabled_) return;
  methods_[static_cast<int>(m)].started->Increment();
}

void ServerMetrics::CallHandled(Method m, int code, absl::Duration took) {
  if (!enabled_) return;
  MethodSeries& s = methods_[static_cast<int>(m)];
  if (code < 0 || code >= 17) code = 2;
  s.handled[code]->Increment();
  s.handling->Observe(absl::ToDoubleSeconds(took));
}

void ServerMetrics::MessagesReceived(Method m, uint64_t n) {
  if (!enabled_) return;
  methods_[static_cast<int>(m)].received->Increment(n);
}

void ServerMetrics::MessagesSent(Method m, uint64_t n) {
  if (!enabled_) return;
  methods_[static_cast<int>(m)].sent->Increment(n);
}

ServerMetrics::KindSeries* ServerMetrics::Kind(const JobKind* kind) {
  if (kind == nullptr) return nullptr;
  for (const auto& [k, series] : kinds_by_kind_) {
    if (k == kind) return series;
  }
  return nullptr;
}

ServerMetrics::KindSeries* ServerMetrics::KindNamed(absl::string_view name) {
  auto it = kinds_.find(name);
  if (it == kinds_.end()) it = kinds_.find("");
  return &it->second;
}

ServerMetrics::KindSeries* ServerMetrics::KindOf(const JobSpec& job) {
  KindSeries* s = Kind(job.resolved_kind);
  return s != nullptr ? s : KindNamed(job.kind);
}

void ServerMetrics::JobFinished(absl::string_view kind,
                                const JobResult& result) {
  if (!enabled_) return;
  KindSeries* s = Kind(result.kind);
  if (s == nullptr) s = KindNamed(kind);
  s->outcomes[static_cast<int>(result.outcome)]->Increment();
  if (result.attempts > 0) s->attempts->Increment(result.attempts);
  if (result.run_time > absl::ZeroDuration()) {
    s->run->Observe(absl::ToDoubleSeconds(result.run_time));
  }
}

void ServerMetrics::OnHandlerStart(const JobSpec& job, absl::Duration queued) {
  if (!enabled_) return;
  KindOf(job)->queue_wait->Observe(absl::ToDoubleSeconds(queued));
}

void ServerMetrics::BatchFinished(Method m, const BatchSummary& summary) {
  if (!enabled_) return;
  MethodSeries& s = methods_[static_cast<int>(m)];
  if (s.batch_jobs == nullptr) return;
  int result = 0;  // An index into kBatchResults.
  switch (summary.cancel_cause) {
    case CancelCause::kNone:
      if (summary.count(JobOutcome::kSucceeded) != summary.total) result = 1;
      break;
    case CancelCause::kFailFast:
      result = 1;
      s.failfast->Increment();
      break;
    case CancelCause::kDeadline:
      result = 2;
      s.deadline_expiries->Increment();
      break;
    case CancelCause::kClient:
    case CancelCause::kDrain:
    case CancelCause::kShutdown:
    case CancelCause::kOperator:
      result = 3;
      break;
  }
  s.batches[result]->Increment();
  s.batch_jobs->Observe(static_cast<double>(summary.total));
  s.batch_duration->Observe(absl::ToDoubleSeconds(summary.elapsed));
}

void ServerMetrics::StreamPausedForMemory() {
  if (enabled_) memory_waits_->Increment();
}

void ServerMetrics::Rejected(absl::string_view reason) {
  if (!enabled_) return;
  auto it = rejected_.find(reason);
  (it == rejected_.end() ? rejected_other_ : it->second)->Increment();
}

void ServerMetrics::OnPermitWait(const Semaphore& backend,
                                 absl::Duration waited) {
  if (!enabled_) return;
  ShardedHistogram* h = nullptr;
  for (const auto& [b, series] : backend_wait_) {
    if (b == &backend) {
      h = series;
      break;
    }
  }
  if (h == nullptr) {
    auto it = backend_wait_by_name_.find(backend.name());
    if (it == backend_wait_by_name_.end()) return;
    h = it->second;
  }
  h->Observe(absl::ToDoubleSeconds(waited));
}

void ServerMetrics::OnRetry(const JobSpec& job) {
  if (!enabled_) return;
  KindOf(job)->retries->Increment();
}

void ServerMetrics::OnFallbackServed(const JobSpec& primary, uint32_t) {
  if (!enabled_) return;
  KindOf(primary)->fallbacks_served->Increment();
}

}  // namespace jobgroup
