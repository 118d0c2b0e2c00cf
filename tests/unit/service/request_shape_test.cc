// ScanJobsRequest() and MemoryBudget: a request's counts are read from its
// bytes, refused in the validator's words past a limit, and its parsed size
// bounded by what parsing it really takes.
#include "server/service/request_shape.h"

#include <string>

#include "google/protobuf/arena.h"
#include "gtest/gtest.h"
#include "jobgroup/v1/jobgroup.pb.h"
#include "server/core/memory_budget.h"
#include "server/service/validation.h"

namespace jobgroup {
namespace {

grpc::ByteBuffer BufferOf(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

TEST(RequestShapeTest, CountsJobsFallbacksAndParamsOfARealRequest) {
  v1::RunBatchRequest request;
  for (int i = 0; i < 3; ++i) {
    v1::Job* job = request.add_jobs();
    job->set_kind("echo");
    (*job->mutable_params())["a"] = "1";
    job->add_fallbacks()->set_kind("echo");
  }
  request.mutable_options()->set_max_concurrency(2);
  ServerOptions options;
  absl::StatusOr<RequestShape> shape =
      ScanJobsRequest(BufferOf(request.SerializeAsString()), 1, options);
  ASSERT_TRUE(shape.ok()) << shape.status();
  EXPECT_EQ(shape->jobs, 3u);
  EXPECT_EQ(shape->job_messages, 6u);
  EXPECT_EQ(shape->params, 3u);
  EXPECT_EQ(shape->other_fields, 1u);  // options
}

TEST(RequestShapeTest, TooManyEmptyJobsAreCountedAndRefusedNamingTheLimit) {
  std::string bytes;
  for (int i = 0; i < 1000; ++i) bytes.append("\x0a\x00", 2);
  ServerOptions options;
  options.max_jobs_per_call = 10;
  absl::StatusOr<RequestShape> shape =
      ScanJobsRequest(BufferOf(bytes), 1, options);
  ASSERT_TRUE(absl::IsInvalidArgument(shape.status()));
  EXPECT_EQ(shape.status().message(),
            "jobs: 1000 jobs is over the limit of 10 per call; split the "
            "batch");
  std::optional<google::rpc::BadRequest> bad = BadRequestOf(shape.status());
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->field_violations(0).field(), "jobs");
}

TEST(RequestShapeTest, TooManyFallbacksOrParamsOrNestedFallbacksAreRefused) {
  ServerOptions options;
  v1::RunBatchRequest request;
  request.add_jobs()->set_kind("echo");
  v1::Job* job = request.add_jobs();
  for (int i = 0; i < 9; ++i) job->add_fallbacks();
  absl::StatusOr<RequestShape> shape =
      ScanJobsRequest(BufferOf(request.SerializeAsString()), 1, options);
  EXPECT_EQ(shape.status().message(),
            "jobs[1].fallbacks: 9 fallbacks is over the limit of 8");

  request.mutable_jobs(1)->clear_fallbacks();
  request.mutable_jobs(1)->add_fallbacks()->add_fallbacks();
  shape = ScanJobsRequest(BufferOf(request.SerializeAsString()), 1, options);
  EXPECT_EQ(shape.status().message(),
            "jobs[1].fallbacks[0].fallbacks: a fallback cannot have "
            "fallbacks of its own");

  request.mutable_jobs(1)->clear_fallbacks();
  for (int i = 0; i < 65; ++i) {
    (*request.mutable_jobs(1)->mutable_params())[std::to_string(i)] = "v";
  }
  shape = ScanJobsRequest(BufferOf(request.SerializeAsString()), 1, options);
  EXPECT_EQ(shape.status().message(),
            "jobs[1].params: 65 params is over the limit of 64");
}

TEST(RequestShapeTest, UnknownFieldsAndTimeoutsAreCounted) {
  // One job: kind "echo", a timeout, field 2 as a varint (unknown), field 99.
  std::string job = std::string(
                        "\x12\x04"
                        "echo"
                        "\x32\x00"
                        "\x10\x01",
                        10) +
                    std::string("\x98\x06\x01", 3);
  std::string bytes = "\x0a" + std::string(1, char(job.size())) + job;
  ServerOptions options;
  absl::StatusOr<RequestShape> shape =
      ScanJobsRequest(BufferOf(bytes), 1, options);
  ASSERT_TRUE(shape.ok()) << shape.status();
  EXPECT_EQ(shape->job_messages, 1u);
  EXPECT_EQ(shape->other_fields, 3u);
}

TEST(RequestShapeTest, BytesThatAreNotAMessageEndTheScanWithoutError) {
  ServerOptions options;
  // A job whose length runs past the end.
  absl::StatusOr<RequestShape> shape =
      ScanJobsRequest(BufferOf(std::string("\x0a\x7f\x12\x01", 4)), 1, options);
  EXPECT_TRUE(shape.ok()) << shape.status();
}

// The bound holds for what parsing takes, for the shapes that amplify most.
TEST(RequestShapeTest, ParsedBytesAtMostBoundsTheArenaAParseUses) {
  std::string empty_jobs, fallbacks, params;
  for (int i = 0; i < 20000; ++i) empty_jobs.append("\x0a\x00", 2);
  v1::RunBatchRequest r;
  for (int i = 0; i < 2000; ++i) {
    v1::Job* job = r.add_jobs();
    for (int k = 0; k < 8; ++k) job->add_fallbacks();
  }
  fallbacks = r.SerializeAsString();
  r.Clear();
  for (int i = 0; i < 300; ++i) {
    v1::Job* job = r.add_jobs();
    for (int k = 0; k < 64; ++k) (*job->mutable_params())[std::to_string(k)];
  }
  params = r.SerializeAsString();
  ServerOptions options;
  for (const std::string* bytes : {&empty_jobs, &fallbacks, &params}) {
    absl::StatusOr<RequestShape> shape =
        ScanJobsRequest(BufferOf(*bytes), 1, options);
    ASSERT_TRUE(shape.ok()) << shape.status();
    google::protobuf::Arena arena;
    auto* parsed =
        google::protobuf::Arena::CreateMessage<v1::RunBatchRequest>(&arena);
    ASSERT_TRUE(parsed->ParseFromString(*bytes));
    EXPECT_LE(arena.SpaceUsed(), shape->ParsedBytesAtMost());
  }
}

TEST(MemoryBudgetTest, ReservesWhatFitsAndGetsItBack) {
  MemoryBudget budget(100);
  EXPECT_TRUE(budget.TryReserve(60));
  EXPECT_FALSE(budget.TryReserve(41));
  EXPECT_EQ(budget.used(), 60u);
  EXPECT_TRUE(budget.TryReserve(40));
  budget.Release(60);
  EXPECT_FALSE(budget.TryReserve(101));
  EXPECT_TRUE(budget.TryReserve(60));
  EXPECT_EQ(budget.used(), 100u);
}

TEST(MemoryBudgetTest, DefaultIsUnderPhysicalMemory) {
  uint64_t d = DefaultMemoryBudgetBytes();
  EXPECT_GT(d, 0u);
}

}  // namespace
}  // namespace jobgroup
