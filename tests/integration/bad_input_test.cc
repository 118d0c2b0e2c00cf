// Bad input against a running jobgroupd: every malformed or oversized
// request gets INVALID_ARGUMENT naming the offending field, nothing runs,
// and the server keeps serving everyone else.
#include <functional>
#include <limits>
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
        BadCase{"RetryMultiplierNaN",
                [](RunBatchRequest& r) {
                  r.mutable_options()->mutable_retry()->set_backoff_multiplier(
                      std::numeric_limits<double>::quiet_NaN());
                },
                "options.retry.backoff_multiplier"}),
    [](const ::testing::TestParamInfo<BadCase>& info) {
      return info.param.name;
    });

}  // namespace
}  // namespace jobgroup::testing
