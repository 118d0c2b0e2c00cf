// An example C++ program using the jobgroup client library: it sends a
// batch of ETL-like jobs (sleeps on the `db` backend, one bad record that
// fails) with a deadline, and prints what happened to each job.
//
//   build/examples/cpp-client-example [TARGET]
// TARGET defaults to $JOBGROUP_TARGET, then localhost:50051.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/time/time.h"
#include "client/job_client.h"

int main(int argc, char** argv) {
  jobgroup::client::ClientOptions options;
  if (const char* env = std::getenv("JOBGROUP_TARGET")) options.target = env;
  if (argc > 1) options.target = argv[1];
  auto client = jobgroup::client::JobClient::Create(options);
  if (!client.ok()) {
    fprintf(stderr, "%s\n", std::string(client.status().message()).c_str());
    return 2;
  }

  jobgroup::v1::RunBatchRequest request;
  request.mutable_options()->set_failure_policy(
      jobgroup::v1::FAILURE_POLICY_COLLECT_ALL);
  request.mutable_options()->set_max_concurrency(50);
  for (int i = 0; i < 200; ++i) {
    jobgroup::v1::Job* job = request.add_jobs();
    job->set_id("record-" + std::to_string(i));
    if (i == 42) {
      job->set_kind("fail");
      (*job->mutable_params())["message"] = "record 42 is malformed";
    } else {
      job->set_kind("sleep");
      (*job->mutable_params())["ms"] = "5";
    }
  }

  jobgroup::client::CallOptions call;
  call.deadline = absl::Seconds(10);
  auto response = (*client)->RunBatch(request, call);
  if (!response.ok()) {
    fprintf(stderr, "RunBatch: %s\n",
            std::string(response.status().message()).c_str());
    return 2;
  }
  const jobgroup::v1::BatchSummary& s = response->summary();
  printf(
      "%llu jobs: %llu succeeded, %llu failed, %llu cancelled, "
      "%llu deadline exceeded, %llu rejected\n",
      static_cast<unsigned long long>(s.total()),
      static_cast<unsigned long long>(s.succeeded()),
      static_cast<unsigned long long>(s.failed()),
      static_cast<unsigned long long>(s.cancelled()),
      static_cast<unsigned long long>(s.deadline_exceeded()),
      static_cast<unsigned long long>(s.rejected()));
  for (const jobgroup::v1::JobResult& r : response->results()) {
    if (r.outcome() != jobgroup::v1::JOB_OUTCOME_SUCCEEDED) {
      printf("  %s: %s (%s)\n", r.id().c_str(),
             jobgroup::v1::JobOutcome_Name(r.outcome()).c_str(),
             r.error().message().c_str());
    }
  }
  return s.succeeded() == s.total() ? 0 : 1;
}
