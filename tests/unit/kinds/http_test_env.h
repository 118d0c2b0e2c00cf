// HttpTestEnv: the real core runtime (timers, workers, backends, kinds,
// executor) with the http kind registered, for driving http jobs through
// TaskGroup as the service does, and the helpers to build and run them.
#ifndef JOBGROUP_TESTS_UNIT_KINDS_HTTP_TEST_ENV_H_
#define JOBGROUP_TESTS_UNIT_KINDS_HTTP_TEST_ENV_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/backends.h"
#include "server/core/executor.h"
#include "server/core/job_kind.h"
#include "server/core/task_group.h"
#include "server/core/timer_service.h"
#include "server/core/worker_pool.h"
#include "server/kinds/http_kind.h"
#include "tests/unit/core/test_env.h"

namespace jobgroup::testing {

using Params = std::vector<std::pair<std::string, std::string>>;

class HttpTestEnv {
 public:
  // `server_memory` (may be null) must outlive the env.
  explicit HttpTestEnv(HttpOptions options, size_t workers = 2,
                       MemoryBudget* server_memory = nullptr)
      : pool_(workers, 1024), executor_(&pool_, &timers_) {
    absl::StatusOr<std::shared_ptr<HttpKind>> kind =
        HttpKind::Create(std::move(options), server_memory);
    EXPECT_TRUE(kind.ok()) << kind.status();
    kind_ = *kind;
    absl::Status s = kind_->Register(kinds_, backends_);
    EXPECT_TRUE(s.ok()) << s;
  }
  ~HttpTestEnv() {
    pool_.Shutdown();
    timers_.Shutdown();
  }

  // An http job with `params`, resolved but not validated (the service
  // would refuse a call with bad params; use Validate() for that).
  std::shared_ptr<JobSpec> Job(Params params, std::string payload = "") {
    auto j = std::make_shared<JobSpec>();
    j->kind = "http";
    j->params = std::move(params);
    j->payload = std::move(payload);
    Resolve(*j);
    return j;
  }
  void Resolve(JobSpec& j) {
    j.resolved_kind = kinds_.Find(j.kind);
    ASSERT_NE(j.resolved_kind, nullptr);
    j.resolved_backend = backends_.Find(j.resolved_kind->info.backend);
    ASSERT_NE(j.resolved_backend, nullptr);
    for (JobSpec& f : j.fallbacks) Resolve(f);
  }
  // The kind's ParamValidator on `params`.
  absl::Status Validate(Params params) {
    JobSpec j;
    j.kind = "http";
    j.params = std::move(params);
    return kinds_.Find("http")->validate(j);
  }

  // Runs `n` copies of `job` in one call and waits for every result.
  std::map<uint64_t, JobResult> Run(std::shared_ptr<JobSpec> job,
                                    uint64_t n = 1, TaskGroup::Options o = {}) {
    o.policy = FailurePolicy::kCollectAll;
    CollectingSink sink;
    auto run = TaskGroup::Create(&executor_, o, &sink);
    run->AddJobs(n, Repeat(std::move(job)));
    run->CloseInput();
    EXPECT_TRUE(sink.Wait(absl::Seconds(30)));
    return sink.results();
  }
  JobResult RunOne(std::shared_ptr<JobSpec> job, TaskGroup::Options o = {}) {
    auto results = Run(std::move(job), 1, o);
    EXPECT_EQ(results.size(), 1u);
    return results.empty() ? JobResult() : results.begin()->second;
  }

  HttpKind& kind() { return *kind_; }
  Semaphore& http_backend() { return *backends_.Find("http"); }
  Executor& executor() { return executor_; }
  TimerService& timers() { return timers_; }

 private:
  TimerService timers_;
  WorkerPool pool_;
  BackendSet backends_;
  KindRegistry kinds_;
  Executor executor_;
  std::shared_ptr<HttpKind> kind_;
};

// Options letting jobs reach 127.0.0.1 (the test servers) and nothing else.
inline HttpOptions LoopbackOptions() {
  HttpOptions o;
  o.allow = {"127.0.0.1:*"};
  o.allow_private = {"127.0.0.1:*"};
  return o;
}

}  // namespace jobgroup::testing

#endif  // JOBGROUP_TESTS_UNIT_KINDS_HTTP_TEST_ENV_H_
