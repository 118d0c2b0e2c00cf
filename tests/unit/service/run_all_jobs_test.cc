// RunAllJobs(): every job of a request reaches the run exactly once, with
// its spec; a request over kSpecsFirstOverBytes is made into specs and
// dropped before any job starts, a smaller one is read as its jobs start
// and never dropped.
#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "jobgroup/v1/jobgroup.pb.h"
#include "server/service/call_gate.h"
#include "server/service/server_options.h"
#include "server/service/validation.h"
#include "tests/unit/core/test_env.h"

namespace jobgroup {
namespace {

using ::jobgroup::testing::CollectingSink;
using ::jobgroup::testing::TestEnv;

constexpr int kJobs = 1000;

v1::RunBatchRequest EchoRequest() {
  v1::RunBatchRequest request;
  for (int i = 0; i < kJobs; ++i) {
    v1::Job* job = request.add_jobs();
    job->set_kind("echo");
    if (i % 2 == 0) job->set_id(absl::StrCat("job-", i));  // Others: default.
    job->set_payload(absl::StrCat("payload ", i));
    (*job->mutable_params())["n"] = absl::StrCat(i);
  }
  return request;
}

// Runs `request` through RunAllJobs() with `request_bytes`; returns how
// many jobs the run had taken when the request was dropped (-1: never).
int64_t RunAll(const v1::RunBatchRequest& request, uint64_t request_bytes,
               JobSpecs* specs, CollectingSink* sink, TestEnv* env) {
  ServerOptions options;
  RequestValidator validator(&options, &env->kinds(), &env->backends());
  EXPECT_TRUE(validator.ValidateJobs(request.jobs()).ok());
  std::shared_ptr<TaskGroup> run =
      TaskGroup::Create(&env->executor(), TaskGroup::Options{}, sink);
  int64_t taken_at_drop = -1;
  int drops = 0;
  RunAllJobs(*run, validator, request.jobs(), nullptr, request_bytes, specs,
             [&] {
               ++drops;
               taken_at_drop = static_cast<int64_t>(run->progress().added);
             });
  EXPECT_TRUE(sink->Wait());
  EXPECT_LE(drops, 1);
  return taken_at_drop;
}

void ExpectEveryJobRanWithItsSpec(const JobSpecs& specs, CollectingSink& sink) {
  ASSERT_EQ(specs.size(), static_cast<size_t>(kJobs));
  std::map<uint64_t, JobResult> results = sink.results();
  ASSERT_EQ(results.size(), static_cast<size_t>(kJobs));
  for (int i = 0; i < kJobs; ++i) {
    ASSERT_NE(specs[i], nullptr) << i;
    EXPECT_EQ(specs[i]->id,
              i % 2 == 0 ? absl::StrCat("job-", i) : absl::StrCat(i));
    EXPECT_EQ(specs[i]->Param("n"), absl::StrCat(i));
    EXPECT_EQ(results[i].outcome, JobOutcome::kSucceeded) << i;
    EXPECT_EQ(results[i].output, absl::StrCat("payload ", i));
  }
  EXPECT_EQ(sink.summary().total, static_cast<uint64_t>(kJobs));
}

TEST(RunAllJobsTest, LargeRequestIsDroppedBeforeAnyJobStarts) {
  TestEnv env;
  CollectingSink sink;
  JobSpecs specs;
  const v1::RunBatchRequest request = EchoRequest();
  EXPECT_EQ(RunAll(request, kSpecsFirstOverBytes + 1, &specs, &sink, &env), 0);
  ExpectEveryJobRanWithItsSpec(specs, sink);
}

TEST(RunAllJobsTest, SmallRequestIsReadAsJobsStartAndKept) {
  TestEnv env;
  CollectingSink sink;
  JobSpecs specs;
  const v1::RunBatchRequest request = EchoRequest();
  EXPECT_EQ(RunAll(request, kSpecsFirstOverBytes, &specs, &sink, &env), -1);
  ExpectEveryJobRanWithItsSpec(specs, sink);
}

}  // namespace
}  // namespace jobgroup
