// Bad input against a running jobgroupd: every malformed or oversized
// request gets INVALID_ARGUMENT naming the offending field, nothing runs,
// and the server keeps serving everyone else.
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/server_process.h"

namespace jobgroup::testing {
namespace {

using v1::RunBatchRequest;

struct BadCase {
  std::string name;
  std::function<void(RunBatchRequest&)> spoil;
  std::string field;  // Must appear at the start of the error message.
};

RunBatchRequest GoodRequest() {
  RunBatchRequest req;
  for (int i = 0; i < 3; ++i) *req.add_jobs() = MakeJob("echo");
  return req;
}

class BadInputTest : public ::testing::TestWithParam<BadCase> {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess(
        JOBGROUPD_PATH, {"--backend=db=2", "--max_jobs_per_call=50",
                         "--max_payload_bytes=1000", "--max_concurrency=100"});
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->Stop(SIGTERM), 0);
    delete server_;
  }
  static ServerProcess* server_;
};
ServerProcess* BadInputTest::server_ = nullptr;

TEST_P(BadInputTest, IsRefusedNamingTheFieldAndTheServerGoesOn) {
  const BadCase& c = GetParam();
  auto stub = server_->NewStub();
  RunBatchRequest req = GoodRequest();
  c.spoil(req);
  grpc::ClientContext ctx;
  v1::RunBatchResponse resp;
  grpc::Status s = stub->RunBatch(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT) << s.error_message();
  EXPECT_EQ(s.error_message().rfind(c.field + ":", 0), 0u)
      << "error \"" << s.error_message() << "\" does not start with "
      << c.field;
  EXPECT_EQ(resp.results_size(), 0);
  // The standard rich error names the field too (google.rpc.BadRequest).
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(s.error_details()));
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::BadRequest bad;
  ASSERT_TRUE(details.details(0).UnpackTo(&bad));
  ASSERT_EQ(bad.field_violations_size(), 1);
  EXPECT_EQ(bad.field_violations(0).field(), c.field);
  EXPECT_FALSE(bad.field_violations(0).description().empty());
  // The same must hold for StreamBatch.
  v1::StreamBatchRequest sreq;
  *sreq.mutable_jobs() = req.jobs();
  *sreq.mutable_options() = req.options();
  grpc::ClientContext sctx;
  auto reader = stub->StreamBatch(&sctx, sreq);
  v1::StreamBatchResponse msg;
  EXPECT_FALSE(reader->Read(&msg));
  grpc::Status ss = reader->Finish();
  EXPECT_EQ(ss.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(ss.error_message(), s.error_message());
  // Everyone else is still served.
  grpc::ClientContext ok_ctx;
  v1::RunBatchResponse ok_resp;
  ASSERT_TRUE(stub->RunBatch(&ok_ctx, GoodRequest(), &ok_resp).ok());
  EXPECT_EQ(ok_resp.summary().succeeded(), 3u);
}

INSTANTIATE_TEST_SUITE_P(
    Fields, BadInputTest,
    ::testing::Values(
        BadCase{"EmptyBatch", [](RunBatchRequest& r) { r.clear_jobs(); },
                "jobs"},
        BadCase{"TooManyJobs",
                [](RunBatchRequest& r) {
                  for (int i = 0; i < 60; ++i) *r.add_jobs() = MakeJob("echo");
                },
                "jobs"},
        BadCase{"MissingKind",
                [](RunBatchRequest& r) { r.mutable_jobs(1)->clear_kind(); },
                "jobs[1].kind"},
        BadCase{"UnknownKind",
                [](RunBatchRequest& r) { r.mutable_jobs(2)->set_kind("nope"); },
                "jobs[2].kind"},
        BadCase{"UnknownBackend",
                [](RunBatchRequest& r) {
                  r.mutable_jobs(0)->set_backend("postgres");
                },
                "jobs[0].backend"},
        // compute may not escape its cpu backend by naming local
        // (--kind_backends; the default rule).
        BadCase{"BackendTheKindMayNotUse",
                [](RunBatchRequest& r) {
                  *r.mutable_jobs(1) = MakeJob("compute", {}, "local");
                },
                "jobs[1].backend"},
        BadCase{"FallbackOnABackendItsKindMayNotUse",
                [](RunBatchRequest& r) {
                  *r.mutable_jobs(2)->add_fallbacks() =
                      MakeJob("echo", {}, "cpu");
                },
                "jobs[2].fallbacks[0].backend"},
        BadCase{"PayloadTooLarge",
                [](RunBatchRequest& r) {
                  r.mutable_jobs(1)->set_payload(std::string(1001, 'x'));
                },
                "jobs[1].payload"},
        BadCase{"BadSleepParam",
                [](RunBatchRequest& r) {
                  *r.mutable_jobs(2) = MakeJob("sleep", {{"ms", "soon"}});
                },
                "jobs[2].params.ms"},
        BadCase{"NegativeSleepParam",
                [](RunBatchRequest& r) {
                  *r.mutable_jobs(0) = MakeJob("sleep", {{"ms", "-5"}});
                },
                "jobs[0].params.ms"},
        BadCase{"BadComputeRounds",
                [](RunBatchRequest& r) {
                  *r.mutable_jobs(0) = MakeJob("compute", {{"rounds", "0"}});
                },
                "jobs[0].params.rounds"},
        BadCase{"DuplicateIds",
                [](RunBatchRequest& r) {
                  r.mutable_jobs(0)->set_id("a");
                  r.mutable_jobs(2)->set_id("a");
                },
                "jobs[2].id"},
        BadCase{"NegativeTimeout",
                [](RunBatchRequest& r) {
                  r.mutable_jobs(1)->mutable_timeout()->set_seconds(-1);
                },
                "jobs[1].timeout"},
        BadCase{"ZeroTimeout",
                [](RunBatchRequest& r) {
                  r.mutable_jobs(1)->mutable_timeout()->set_seconds(0);
                },
                "jobs[1].timeout"},
        BadCase{"MaxConcurrencyOverLimit",
                [](RunBatchRequest& r) {
                  r.mutable_options()->set_max_concurrency(101);
                },
                "options.max_concurrency"},
        BadCase{"UnknownPolicy",
                [](RunBatchRequest& r) {
                  r.mutable_options()->set_failure_policy(
                      static_cast<v1::FailurePolicy>(9));
                },
                "options.failure_policy"},
        BadCase{"BadFallback",
                [](RunBatchRequest& r) {
                  *r.mutable_jobs(0)->add_fallbacks() = MakeJob("nope");
                },
                "jobs[0].fallbacks[0].kind"},
        BadCase{"NestedFallbacks",
                [](RunBatchRequest& r) {
                  v1::Job* f = r.mutable_jobs(0)->add_fallbacks();
                  *f = MakeJob("echo");
                  *f->add_fallbacks() = MakeJob("echo");
                },
                "jobs[0].fallbacks[0].fallbacks"},
        BadCase{"RetryJitterOutOfRange",
                [](RunBatchRequest& r) {
                  r.mutable_options()->mutable_retry()->set_jitter(2);
                },
                "options.retry.jitter"},
        BadCase{"ExplicitIdIsAnotherJobsDefaultId",
                [](RunBatchRequest& r) { r.mutable_jobs(0)->set_id("2"); },
                "jobs[0].id"},
        BadCase{"KindTooLong",
                [](RunBatchRequest& r) {
                  r.mutable_jobs(1)->set_kind(std::string(129, 'k'));
                },
                "jobs[1].kind"},
        BadCase{"BackendTooLong",
                [](RunBatchRequest& r) {
                  r.mutable_jobs(1)->set_backend(std::string(129, 'b'));
                },
                "jobs[1].backend"},
        BadCase{"IdTooLong",
                [](RunBatchRequest& r) {
                  r.mutable_jobs(2)->set_id(std::string(257, 'i'));
                },
                "jobs[2].id"},
        BadCase{"RetryMultiplierNaN",
                [](RunBatchRequest& r) {
                  r.mutable_options()->mutable_retry()->set_backoff_multiplier(
                      std::numeric_limits<double>::quiet_NaN());
                },
                "options.retry.backoff_multiplier"}),
    [](const ::testing::TestParamInfo<BadCase>& info) {
      return info.param.name;
    });

// An id may be a job's own index, not another job's default id.
TEST(BadInputIdsTest, AJobsOwnIndexIsAValidId) {
  ServerProcess server(JOBGROUPD_PATH, {});
  RunBatchRequest req = GoodRequest();
  req.mutable_jobs(1)->set_id("1");
  req.mutable_jobs(2)->set_id("0");
  req.mutable_jobs(0)->set_id("x");
  grpc::ClientContext ctx;
  v1::RunBatchResponse resp;
  grpc::Status s = server.NewStub()->RunBatch(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.summary().succeeded(), 3u);
}

// The case: a 2 MiB kind name gave a 2 MiB error, sent three times
// (message, and twice in the details trailer), so a client with gRPC's
// default 8 KiB metadata limit saw RESOURCE_EXHAUSTED, not the
// INVALID_ARGUMENT. Every value a client sent is quoted bounded.
TEST(BadInputQuotingTest, LongValuesAreQuotedAsAPrefixAndTheirLength) {
  ServerProcess server(JOBGROUPD_PATH, {});
  auto stub = server.NewStub();
  struct Case {
    std::function<void(v1::Job&)> spoil;
    std::string field;
    std::string says;  // A part of the message.
  };
  const Case cases[] = {
      {[](v1::Job& j) { j.set_kind(std::string(2 << 20, 'a')); },
       "jobs[0].kind", "2097152 bytes is over the limit of 128"},
      {[](v1::Job& j) { j.set_kind(std::string(100, 'a')); }, "jobs[0].kind",
       "unknown kind \"" + std::string(64, 'a') + "…\" (100 bytes)"},
      {[](v1::Job& j) { j.set_backend(std::string(100, 'b')); },
       "jobs[0].backend",
       "unknown backend \"" + std::string(64, 'b') + "…\" (100 bytes)"},
      {[](v1::Job& j) { j.set_id(std::string(2 << 20, 'i')); }, "jobs[0].id",
       "2097152 bytes is over the limit of 256"},
      // A kind's own validator quotes the whole value; the description is
      // cut.
      {[](v1::Job& j) {
         j = MakeJob("sleep", {{"ms", std::string(4000, '9') + "x"}});
       },
       "jobs[0].params.ms", "(4"},
  };
  for (const Case& c : cases) {
    RunBatchRequest req = GoodRequest();
    c.spoil(*req.mutable_jobs(0));
    grpc::ClientContext ctx;
    v1::RunBatchResponse resp;
    grpc::Status s = stub->RunBatch(&ctx, req, &resp);
    ASSERT_EQ(s.error_code(), grpc::INVALID_ARGUMENT)
        << c.field << ": " << s.error_message().substr(0, 200);
    EXPECT_EQ(s.error_message().rfind(c.field + ": ", 0), 0u)
        << s.error_message().substr(0, 200);
    EXPECT_NE(s.error_message().find(c.says), std::string::npos)
        << s.error_message().substr(0, 200);
    // Message and details (base64 in the trailer) within 8 KiB by far.
    EXPECT_LT(s.error_message().size() + s.error_details().size() * 4 / 3,
              4096u);
    google::rpc::Status details;
    ASSERT_TRUE(details.ParseFromString(s.error_details()));
    google::rpc::BadRequest bad;
    ASSERT_TRUE(details.details(0).UnpackTo(&bad));
    EXPECT_EQ(bad.field_violations(0).field(), c.field);
  }
  // The log line of each call is bounded too.
  EXPECT_LT(server.Log().size(), 64u << 10);
}

// Process checks ids among the call's jobs whose results have not been
// sent: a duplicate, or another job's default id, is REJECTED naming the
// field, and the other jobs run.

// One Process call of sleep(300 ms) jobs with `ids` (so that every job is
// still in flight when the next comes), COLLECT_ALL; its results by index.
std::map<uint64_t, v1::JobResult> ProcessWithIds(ServerProcess& server,
                                                 std::vector<const char*> ids,
                                                 grpc::Status* status) {
  auto stub = server.NewStub();
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, 30000);
  auto stream = stub->Process(&ctx);
  v1::ProcessRequest req;
  req.mutable_options()->set_failure_policy(v1::FAILURE_POLICY_COLLECT_ALL);
  for (const char* id : ids) {
    v1::Job* j = req.add_jobs();
    *j = MakeJob("sleep", {{"ms", "300"}});
    j->set_id(id);
  }
  std::map<uint64_t, v1::JobResult> results;
  if (stream->Write(req)) {
    stream->WritesDone();
    v1::ProcessResponse resp;
    while (stream->Read(&resp)) {
      for (const v1::JobResult& r : resp.results()) results[r.index()] = r;
    }
  } else {
    ADD_FAILURE() << "the request could not be written";
  }
  *status = stream->Finish();
  return results;
}

TEST(BadInputIdsTest, ProcessRejectsADuplicateIdWithinTheCall) {
  ServerProcess server(JOBGROUPD_PATH, {});
  grpc::Status s;
  std::map<uint64_t, v1::JobResult> results =
      ProcessWithIds(server, {"a", "a", "", "1"}, &s);
  EXPECT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].outcome(), v1::JOB_OUTCOME_SUCCEEDED);
  EXPECT_EQ(results[1].outcome(), v1::JOB_OUTCOME_REJECTED);
  EXPECT_EQ(results[1].error().message().rfind("jobs[1].id: duplicate id", 0),
            0u)
      << results[1].error().message();
  EXPECT_EQ(results[2].outcome(), v1::JOB_OUTCOME_SUCCEEDED);
  // Job 3's explicit "1" is the default id of job 1 — which was rejected
  // and holds no id — so it runs.
  EXPECT_EQ(results[3].outcome(), v1::JOB_OUTCOME_SUCCEEDED);
}

TEST(BadInputIdsTest, ProcessRejectsADefaultIdTakenByAnExplicitOne) {
  ServerProcess server(JOBGROUPD_PATH, {});
  grpc::Status s;
  std::map<uint64_t, v1::JobResult> results =
      ProcessWithIds(server, {"1", ""}, &s);
  EXPECT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].outcome(), v1::JOB_OUTCOME_SUCCEEDED);
  EXPECT_EQ(results[1].outcome(), v1::JOB_OUTCOME_REJECTED);
  EXPECT_EQ(results[1].error().message(),
            "jobs[1].id: no id given, and the default one, \"1\", is the id "
            "of jobs[0], whose result has not been sent; give this job an id");
}

}  // namespace
}  // namespace jobgroup::testing
