// Implementation of ServerProcess.
#include "tests/integration/server_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace jobgroup::testing {

ServerProcess::ServerProcess(std::string binary,
                             std::vector<std::string> args) {
  char tmpl[] = "/tmp/jobgroupd-test-XXXXXX";
  int fd = mkstemp(tmpl);
  EXPECT_GE(fd, 0);
  log_path_ = tmpl;
  args.insert(args.begin(),
              {binary, "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0"});
  pid_ = fork();
  if (pid_ == 0) {
    dup2(fd, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fd);
  // The start-up line, as text (port=N ... metrics_port=M) or JSON.
  std::regex ports(R"([ ,"]port"?[=:](\d+)[ ,].*metrics_port"?[=:](\d+))");
  // A generous bound: a loaded machine (or a sanitizer) starts it slowly.
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (port_ == 0 && std::chrono::steady_clock::now() < give_up) {
    std::smatch m;
    std::string log = Log();
    if (std::regex_search(log, m, ports)) {
      port_ = std::stoi(m[1]);
      metrics_port_ = std::stoi(m[2]);
      break;
    }
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      ADD_FAILURE() << "jobgroupd exited at start:\n" << log;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(port_, 0) << "jobgroupd did not start:\n" << Log();
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  unlink(log_path_.c_str());
}

std::shared_ptr<grpc::Channel> ServerProcess::NewChannel() const {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  args.SetMaxSendMessageSize(256 << 20);
  // A fresh connection per channel, so tests do not share one.
  args.SetInt("grpc.use_local_subchannel_pool", 1);
  return grpc::CreateCustomChannel(target(), grpc::InsecureChannelCredentials(),
                                   args);
}

std::unique_ptr<v1::JobService::Stub> ServerProcess::NewStub() const {
  return v1::JobService::NewStub(NewChannel());
}

static std::string ProcStatusField(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return line.substr(field.size() + 1);
  }
  return "";
}

int ServerProcess::Threads() const {
  std::string v = ProcStatusField(pid_, "Threads");
  return v.empty() ? -1 : std::stoi(v);
}

long ServerProcess::RssBytes() const {
  std::string v = ProcStatusField(pid_, "VmRSS");  // "  1234 kB"
  return v.empty() ? -1 : std::stol(v) * 1024;
}

std::string ServerProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int ServerProcess::Stop(int sig, double timeout_s) {
  if (pid_ <= 0) return -1;
  kill(pid_, sig);
  auto give_up = std::chrono::steady_clock::now() +
                 std::chrono::milliseconds(static_cast<int>(timeout_s * 1000));
  while (std::chrono::steady_clock::now() < give_up) {
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  return -1;
}

v1::Job MakeJob(const std::string& kind,
                std::vector<std::pair<std::string, std::string>> params,
                const std::string& backend) {
  v1::Job job;
  job.set_kind(kind);
  for (auto& [k, v] : params) (*job.mutable_params())[k] = v;
  if (!backend.empty()) job.set_backend(backend);
  return job;
}

void SetDeadlineMs(grpc::ClientContext* ctx, int ms) {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(ms));
}

bool WaitForInflightJobs(v1::JobService::Stub& stub, uint64_t jobs,
                         int timeout_ms, const std::string& bearer_token) {
  auto give_up =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < give_up) {
    grpc::ClientContext ctx;
    if (!bearer_token.empty()) {
      ctx.AddMetadata("authorization", "Bearer " + bearer_token);
    }
    v1::GetServerInfoResponse info;
    if (stub.GetServerInfo(&ctx, {}, &info).ok() &&
        info.limits().inflight_jobs() >= jobs) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

std::string ServerProcess::Metrics() const {
  std::string cmd =
      "curl -s http://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics";
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
  }
  return out;
}

double ServerProcess::MetricValue(const std::string& series) const {
  for (absl::string_view line : absl::StrSplit(Metrics(), '\n')) {
    if (!absl::StartsWith(line, series + " ")) continue;
    double v;
    if (absl::SimpleAtod(line.substr(series.size() + 1), &v)) return v;
  }
  return -1;
}

}  // namespace jobgroup::testing
