// Tests of JobClient against an in-process fake JobService over real
// loopback gRPC: the calls, Process's lazy and bounded producer, errors, the
// health check, the bearer token and round-robin over two servers.
#include "client/job_client.h"

#include <atomic>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "gtest/gtest.h"
#include "jobgroup/v1/jobgroup.grpc.pb.h"
#include "tests/client/fake_job_server.h"

namespace jobgroup::client {
namespace {

using ::jobgroup::client::testing::FakeJobService;
using ::jobgroup::client::testing::FakeServer;
using ::jobgroup::client::testing::MakeJob;
using ::jobgroup::v1::BatchSummary;
using ::jobgroup::v1::Job;
using ::jobgroup::v1::JobResult;
using ::testing::HasSubstr;

std::unique_ptr<JobClient> Connect(const std::string& target,
                                   std::string token = "") {
  ClientOptions options;
  options.target = target;
  options.bearer_token = std::move(token);
  absl::StatusOr<std::unique_ptr<JobClient>> client =
      JobClient::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return *std::move(client);
}

CallOptions WithDeadline(absl::Duration deadline) {
  CallOptions call;
  call.deadline = deadline;
  return call;
}

// Yields `count` echo jobs with a 1 KiB payload (count < 0: endless), and
// counts them; Next() runs on Process()'s writer thread.
class CountingSource : public JobSource {
 public:
  explicit CountingSource(int64_t count, int64_t fail_at = -1)
      : count_(count), fail_at_(fail_at) {}
  absl::StatusOr<bool> Next(Job& job) override {
    const int64_t n = produced_.load();
    if (n == fail_at_) {
      return absl::InvalidArgumentError("jobs.jsonl line 6: broken");
    }
    if (count_ >= 0 && n >= count_) return false;
    job = MakeJob("echo", std::string(1024, 'x'));
    job.set_id(absl::StrCat("job-", n));
    produced_.fetch_add(1);
    return true;
  }
  int64_t produced() const { return produced_.load(); }

 private:
  const int64_t count_;
  const int64_t fail_at_;
  std::atomic<int64_t> produced_{0};
};

TEST(JobClientTest, RunBatchReturnsEveryResultInOrder) {
  FakeServer server;
  std::unique_ptr<JobClient> client = Connect(server.target());
  jobgroup::v1::RunBatchRequest request;
  *request.add_jobs() = MakeJob("echo", "a");
  *request.add_jobs() = MakeJob("fail");
  *request.add_jobs() = MakeJob("echo", "c");
  absl::StatusOr<jobgroup::v1::RunBatchResponse> response =
      client->RunBatch(request, {});
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->results_size(), 3);
  EXPECT_EQ(response->results(0).output(), "a");
  EXPECT_EQ(response->results(1).outcome(), jobgroup::v1::JOB_OUTCOME_FAILED);
  EXPECT_EQ(response->summary().total(), 3u);
  EXPECT_EQ(response->summary().failed(), 1u);
}

TEST(JobClientTest, ServerErrorKeepsItsCodeAndNamesTheCall) {
  FakeServer server;
  std::unique_ptr<JobClient> client = Connect(server.target());
  CallOptions call;
  call.request_id = "req-1";
  absl::StatusOr<jobgroup::v1::RunBatchResponse> response =
      client->RunBatch(jobgroup::v1::RunBatchRequest(), call);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument);
  // The call's id (its x-request-id) ends the message.
  EXPECT_EQ(response.status().message(),
            "RunBatch: jobs: at least one job is required (call req-1)");
}

TEST(JobClientTest, EachJobCallGetsItsOwnRequestId) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewRequestId();
    ASSERT_EQ(id.size(), 32u) << id;
    ASSERT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos)
        << id;
    ASSERT_TRUE(ids.insert(id).second) << id;
  }
}

TEST(JobClientTest, UnreachableServerSaysSoInOneLine) {
  // A port that was free a moment ago.
  std::string target;
  {
    FakeServer server;
    target = server.target();
  }
  std::unique_ptr<JobClient> client = Connect(target);
  absl::StatusOr<jobgroup::v1::GetServerInfoResponse> info =
      client->GetServerInfo(WithDeadline(absl::Seconds(10)));
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(info.status().message(),
            absl::StrCat("cannot reach jobgroupd at ", target,
                         ": connection refused — is the server running?"));
}

TEST(JobClientTest, StreamBatchDeliversEachMessageThenTheSummary) {
  FakeServer server;
  std::unique_ptr<JobClient> client = Connect(server.target());
  jobgroup::v1::StreamBatchRequest request;
  for (int i = 0; i < 5; ++i) *request.add_jobs() = MakeJob("echo");
  int messages = 0;
  int results = 0;
  absl::StatusOr<BatchSummary> summary = client->StreamBatch(
      request, {}, [&](const jobgroup::v1::StreamBatchResponse& response) {
        ++messages;
        results += response.results_size();
      });
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(messages, 5);
  EXPECT_EQ(results, 5);
  EXPECT_EQ(summary->total(), 5u);
}

TEST(JobClientTest, ProcessSendsOptionsFirstAndHalfClosesAtTheEnd) {
  FakeServer server;
  std::unique_ptr<JobClient> client = Connect(server.target());
  CountingSource source(1000);
  ProcessOptions options;
  options.batch.set_max_concurrency(7);
  options.max_jobs_per_message = 100;
  std::vector<std::string> ids;
  absl::StatusOr<BatchSummary> summary = client->Process(
      options, source, {},
      [&](const JobResult& result) { ids.push_back(result.id()); });
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->total(), 1000u);
  ASSERT_EQ(ids.size(), 1000u);
  EXPECT_EQ(ids.front(), "job-0");
  EXPECT_EQ(ids.back(), "job-999");
  absl::MutexLock lock(&server.service().mu);
  EXPECT_EQ(server.service().process_options.max_concurrency(), 7u);
  // 1000 jobs in messages of at most 100; options in the first only.
  ASSERT_EQ(server.service().options_in_message.size(), 10u);
  EXPECT_TRUE(server.service().options_in_message[0]);
  for (size_t i = 1; i < server.service().options_in_message.size(); ++i) {
    EXPECT_FALSE(server.service().options_in_message[i]) << i;
  }
}

TEST(JobClientTest, ProcessWithNoJobsStillSendsTheOptions) {
  FakeServer server;
  std::unique_ptr<JobClient> client = Connect(server.target());
  CountingSource source(0);
  absl::StatusOr<BatchSummary> summary =
      client->Process({}, source, {}, [](const JobResult&) {});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->total(), 0u);
  absl::MutexLock lock(&server.service().mu);
  EXPECT_EQ(server.service().options_in_message.size(), 1u);
}

TEST(JobClientTest, ProcessPullsAnEndlessSourceOnlyAsFlowControlAllows) {
  FakeServer server(/*fixed_window=*/true);
  FakeJobService& service = server.service();
  service.stop_after_messages = 3;
  service.stall = absl::Milliseconds(500);
  CountingSource source(-1);
  std::atomic<int64_t> produced_during_stall{-1};
  service.on_stall_end = [&] { produced_during_stall = source.produced(); };
  std::unique_ptr<JobClient> client = Connect(server.target());
  ProcessOptions options;
  int64_t results = 0;
  absl::StatusOr<BatchSummary> summary =
      client->Process(options, source, WithDeadline(absl::Seconds(30)),
                      [&](const JobResult&) { ++results; });
  // The server ended the call while input remained: its summary is the
  // answer, and the writer stopped.
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_TRUE(summary->deadline_hit());
  EXPECT_EQ(summary->total(), static_cast<uint64_t>(results));
  // While the server read nothing, the client pulled only what flow control
  // let it send (about one 64 KiB window plus a message or two of 1 KiB
  // jobs), not the endless input.
  std::cerr << "jobs pulled while the server stalled: "
            << produced_during_stall.load() << "\n";
  EXPECT_GT(produced_during_stall.load(), 3 * 256);
  EXPECT_LT(produced_during_stall.load(), 3 * 256 + 2000);
}

TEST(JobClientTest, ProcessSourceErrorCancelsTheCallAndIsReturned) {
  FakeServer server;
  std::unique_ptr<JobClient> client = Connect(server.target());
  CountingSource source(-1, /*fail_at=*/5);
  absl::StatusOr<BatchSummary> summary =
      client->Process({}, source, {}, [](const JobResult&) {});
  ASSERT_FALSE(summary.ok());
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(summary.status().message(), "jobs.jsonl line 6: broken");
  // The server sees the cancellation.
  for (int i = 0; i < 100 && !server.service().process_cancelled; ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(server.service().process_cancelled);
}

TEST(JobClientTest, DeadlineIsSentOnlyWhenGiven) {
  FakeServer server;
  std::unique_ptr<JobClient> client = Connect(server.target());
  ASSERT_TRUE(client->GetServerInfo({}).ok());
  {
    absl::MutexLock lock(&server.service().mu);
    EXPECT_FALSE(server.service().had_deadline);
  }
  ASSERT_TRUE(client->GetServerInfo(WithDeadline(absl::Seconds(5))).ok());
  absl::MutexLock lock(&server.service().mu);
  EXPECT_TRUE(server.service().had_deadline);
}

TEST(JobClientTest, WithoutDeadlineTheClientGivesUpAfterItsWaitLimit) {
  FakeServer server;
  std::unique_ptr<JobClient> client = Connect(server.target());
  CountingSource endless(-1);
  CallOptions call;
  call.wait_limit = absl::Milliseconds(300);
  call.request_id = "p-1";
  const absl::Time start = absl::Now();
  absl::StatusOr<BatchSummary> summary =
      client->Process({}, endless, call, [](const JobResult&) {});
  ASSERT_FALSE(summary.ok());
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(summary.status().message(),
            absl::StrCat("Process: no answer from ", server.target(),
                         " within 300ms (call p-1)"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST(JobClientTest, HealthCheckUsesTheStandardService) {
  FakeServer server;
  std::unique_ptr<JobClient> client = Connect(server.target());
  EXPECT_EQ(client->CheckHealth("", {}).value(), ServingStatus::kServing);
  EXPECT_EQ(client->CheckHealth("no.such.Service", {}).value(),
            ServingStatus::kServiceUnknown);
  server.server().GetHealthCheckService()->SetServingStatus(false);
  EXPECT_EQ(client->CheckHealth("", {}).value(), ServingStatus::kNotServing);
}

TEST(JobClientTest, BearerTokenTravelsAsAuthorizationMetadata) {
  FakeServer server;
  std::unique_ptr<JobClient> client = Connect(server.target(), "s3cret");
  ASSERT_TRUE(client->GetServerInfo({}).ok());
  absl::MutexLock lock(&server.service().mu);
  EXPECT_EQ(server.service().authorization, "Bearer s3cret");
}

TEST(JobClientTest, CallsAreSpreadRoundRobinOverEveryAddress) {
  FakeServer a;
  FakeServer b;
  // One target resolving to both servers, as a DNS name with two records.
  const std::string target = absl::StrCat("ipv4:", a.target(), ",", b.target());
  std::unique_ptr<JobClient> client = Connect(target);
  // Until both connections are up, round robin uses the ready one only.
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while ((a.service().calls == 0 || b.service().calls == 0) &&
         absl::Now() < give_up) {
    ASSERT_TRUE(client->GetServerInfo({}).ok());
  }
  a.service().calls = 0;
  b.service().calls = 0;
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(client->GetServerInfo({}).ok());
  }
  EXPECT_GE(a.service().calls.load(), 8);
  EXPECT_GE(b.service().calls.load(), 8);
  EXPECT_EQ(a.service().calls.load() + b.service().calls.load(), 20);
}

TEST(JobClientTest, MissingTlsFileIsAClearError) {
  ClientOptions options;
  options.target = "localhost:1";
  options.tls_ca_file = "/nonexistent/ca.pem";
  absl::StatusOr<std::unique_ptr<JobClient>> client =
      JobClient::Create(options);
  ASSERT_FALSE(client.ok());
  EXPECT_THAT(client.status().message(),
              HasSubstr("cannot read TLS CA file \"/nonexistent/ca.pem\""));
}

// TLS, with the certificates of testdata/.

std::string TestFile(absl::string_view name) {
  return absl::StrCat(JOBGROUP_CLIENT_TESTDATA, "/", name);
}

std::string ReadTestFile(absl::string_view name) {
  std::ifstream in(TestFile(name));
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::shared_ptr<grpc::ServerCredentials> ServerTls(bool require_client_cert) {
  grpc::SslServerCredentialsOptions options(
      require_client_cert
          ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
          : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  options.pem_root_certs = ReadTestFile("ca.pem");
  options.pem_key_cert_pairs.push_back(
      {ReadTestFile("server.key"), ReadTestFile("server.pem")});
  return grpc::SslServerCredentials(options);
}

absl::Status InfoOverTls(const std::string& target, bool with_ca,
                         bool with_client_cert) {
  ClientOptions options;
  options.target = target;
  if (with_ca) options.tls_ca_file = TestFile("ca.pem");
  if (with_client_cert) {
    options.tls_cert_file = TestFile("client.pem");
    options.tls_key_file = TestFile("client.key");
  }
  absl::StatusOr<std::unique_ptr<JobClient>> client =
      JobClient::Create(options);
  if (!client.ok()) return client.status();
  return (*client)->GetServerInfo(WithDeadline(absl::Seconds(10))).status();
}

TEST(JobClientTlsTest, CaVerifiesTheServer) {
  FakeServer server(/*fixed_window=*/false, ServerTls(false));
  EXPECT_TRUE(InfoOverTls(server.target(), /*with_ca=*/true,
                          /*with_client_cert=*/false)
                  .ok());
}

TEST(JobClientTlsTest, PlaintextClientCannotReachATlsServer) {
  FakeServer server(/*fixed_window=*/false, ServerTls(false));
  absl::Status status = InfoOverTls(server.target(), /*with_ca=*/false,
                                    /*with_client_cert=*/false);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr("cannot reach jobgroupd at"));
}

TEST(JobClientTlsTest, MutualTlsNeedsTheClientCertificate) {
  FakeServer server(/*fixed_window=*/false, ServerTls(true));
  EXPECT_TRUE(InfoOverTls(server.target(), /*with_ca=*/true,
                          /*with_client_cert=*/true)
                  .ok());
  absl::Status without = InfoOverTls(server.target(), /*with_ca=*/true,
                                     /*with_client_cert=*/false);
  EXPECT_EQ(without.code(), absl::StatusCode::kUnavailable) << without;
  EXPECT_EQ(without.message().find('\n'), absl::string_view::npos);
}

}  // namespace
}  // namespace jobgroup::client
