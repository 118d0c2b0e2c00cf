// Security of the real jobgroupd: TLS and mutual TLS on the gRPC port,
// bearer tokens on every JobService call (one message whatever was wrong,
// counted in metrics, never logged), health open without a token, also on
// its own plain-text --health_listen address, and start-up refusing bad
// certificate and token files with a one-line error naming the flag and
// the file. The certificates are made for each run with the openssl
// command: a CA, a server certificate for 127.0.0.1 and localhost, a client
// certificate, and a client certificate from another CA.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/integration/server_process.h"

namespace jobgroup::testing {
namespace {

constexpr char kRefusal[] = "missing or invalid bearer token";
constexpr char kAlpha[] = "alpha-6f1c0e9a2b7d4f38a5c1";
constexpr char kBeta[] = "beta-0d93b7e2c4a8f15b6e27";

// Makes the PKI in the current directory (see the file comment).
constexpr char kMakePki[] = R"sh(set -e
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
          -out "$1.key"; }
ca() {
  key "$1"
  printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' > "$1.ext"
  openssl req -new -key "$1.key" -subj "/CN=jobgroup security test $1" -out "$1.csr"
  openssl x509 -req -in "$1.csr" -signkey "$1.key" -days 2 -extfile "$1.ext" \
    -out "$1.pem"
}
leaf() {  # name, issuer, extended key usage, subject alternative names
  key "$1"
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\n' "$3" > "$1.ext"
  if [ -n "$4" ]; then printf 'subjectAltName=%s\n' "$4" >> "$1.ext"; fi
  openssl req -new -key "$1.key" -subj "/CN=jobgroup security test $1" -out "$1.csr"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" \
    -set_serial "0x$(openssl rand -hex 8)" -days 2 -extfile "$1.ext" \
    -out "$1.pem"
}
ca ca
ca rogue_ca
leaf server ca serverAuth IP:127.0.0.1,DNS:localhost
leaf client ca clientAuth
leaf rogue_client rogue_ca clientAuth
)sh";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream(path) << contents;
  chmod(path.c_str(), 0600);
}

// Runs `command` with sh; returns its exit code and what it wrote on
// stdout and stderr.
int RunCommand(const std::string& command, std::string* output) {
  output->clear();
  FILE* p = popen(absl::StrCat(command, " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) output->append(buf, n);
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string Quote(const std::string& s) { return absl::StrCat("'", s, "'"); }

class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/jobgroup-security-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = new std::string(tmpl);
    WriteFile(Path("make_pki.sh"), kMakePki);
    std::string out;
    ASSERT_EQ(
        RunCommand(absl::StrCat("cd ", Quote(*dir_), " && sh make_pki.sh"),
                   &out),
        0)
        << out;
    WriteFile(Path("tokens"), absl::StrCat("# jobgroup tokens\n", kAlpha,
                                           "\n\n   ", kBeta, "  \n# end\n"));
  }
  static void TearDownTestSuite() {
    std::string out;
    RunCommand(absl::StrCat("rm -rf ", Quote(*dir_)), &out);
    delete dir_;
  }

  static std::string Path(const std::string& name) {
    return absl::StrCat(*dir_, "/", name);
  }

  // Flags of a server with TLS; `mutual` asks for client certificates.
  static std::vector<std::string> TlsFlags(bool mutual) {
    std::vector<std::string> flags = {"--tls_cert=" + Path("server.pem"),
                                      "--tls_key=" + Path("server.key")};
    if (mutual) flags.push_back("--tls_client_ca=" + Path("ca.pem"));
    return flags;
  }

  // A channel of its own to `target`, over TLS trusting the test CA and
  // presenting `client` (a name such as "client"; empty: no certificate).
  static std::shared_ptr<grpc::Channel> TlsChannel(
      const std::string& target, const std::string& client = "",
      const std::string& server_name = "") {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadFile(Path("ca.pem"));
    if (!client.empty()) {
      ssl.pem_cert_chain = ReadFile(Path(client + ".pem"));
      ssl.pem_private_key = ReadFile(Path(client + ".key"));
    }
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    if (!server_name.empty()) args.SetSslTargetNameOverride(server_name);
    return grpc::CreateCustomChannel(target, grpc::SslCredentials(ssl), args);
  }

  static std::shared_ptr<grpc::Channel> PlainChannel(
      const std::string& target) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(),
                                     args);
  }

  static std::string* dir_;
};
std::string* SecurityTest::dir_ = nullptr;

// One unary call by method name with raw protobuf bytes, for the services
// this test has no generated stubs for (grpc.health.v1, reflection).
grpc::Status RawUnaryCall(const std::shared_ptr<grpc::Channel>& channel,
                          const std::string& method, const std::string& request,
                          std::string* response) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, 5000);
  grpc::CompletionQueue cq;
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  auto call = stub.PrepareUnaryCall(&ctx, method, request_buffer, &cq);
  call->StartCall();
  grpc::ByteBuffer response_buffer;
  grpc::Status status;
  call->Finish(&response_buffer, &status, nullptr);
  void* tag;
  bool ok;
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  response->clear();
  std::vector<grpc::Slice> slices;
  if (status.ok() && response_buffer.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices) {
      response->append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  return status;
}

// grpc.health.v1.Health/Check of `service`: 1 SERVING, 2 NOT_SERVING, or
// -(gRPC code) when the call fails.
int HealthStatus(const std::shared_ptr<grpc::Channel>& channel,
                 const std::string& service = "") {
  std::string request;  // HealthCheckRequest{service = 1}.
  if (!service.empty()) {
    request =
        absl::StrCat("\x0a", std::string(1, char(service.size())), service);
  }
  std::string response;  // HealthCheckResponse{status = 1}.
  grpc::Status s =
      RawUnaryCall(channel, "/grpc.health.v1.Health/Check", request, &response);
  if (!s.ok()) return -static_cast<int>(s.error_code());
  if (response.size() == 2 && response[0] == '\x08') return response[1];
  return 0;
}

// Asks server reflection for its list of services; the call's status.
grpc::Status Reflection(const std::shared_ptr<grpc::Channel>& channel) {
  std::string response;
  // ServerReflectionRequest{list_services = 7: ""}.
  return RawUnaryCall(
      channel, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      std::string("\x3a\x00", 2), &response);
}

// The status of each JobService method called over `channel` with these
// authorization metadata entries, each call running one echo job.
struct MethodStatuses {
  grpc::Status info, run, stream, process;
  std::vector<std::pair<std::string, grpc::Status>> All() const {
    return {{"GetServerInfo", info},
            {"RunBatch", run},
            {"StreamBatch", stream},
            {"Process", process}};
  }
};

MethodStatuses CallEveryMethod(const std::shared_ptr<grpc::Channel>& channel,
                               const std::vector<std::string>& authorization) {
  auto stub = v1::JobService::NewStub(channel);
  auto prepare = [&](grpc::ClientContext* ctx) {
    SetDeadlineMs(ctx, 10000);
    for (const std::string& a : authorization) {
      ctx->AddMetadata("authorization", a);
    }
  };
  MethodStatuses out;
  {
    grpc::ClientContext ctx;
    prepare(&ctx);
    v1::GetServerInfoResponse response;
    out.info = stub->GetServerInfo(&ctx, {}, &response);
    if (out.info.ok() && response.version().empty()) {
      out.info = grpc::Status(grpc::INTERNAL, "no version in the reply");
    }
  }
  {
    grpc::ClientContext ctx;
    prepare(&ctx);
    v1::RunBatchRequest request;
    *request.add_jobs() = MakeJob("echo");
    v1::RunBatchResponse response;
    out.run = stub->RunBatch(&ctx, request, &response);
    if (out.run.ok() && response.summary().succeeded() != 1) {
      out.run = grpc::Status(grpc::INTERNAL, response.DebugString());
    }
  }
  {
    grpc::ClientContext ctx;
    prepare(&ctx);
    v1::StreamBatchRequest request;
    *request.add_jobs() = MakeJob("echo");
    auto reader = stub->StreamBatch(&ctx, request);
    v1::StreamBatchResponse response;
    uint64_t succeeded = 0;
    while (reader->Read(&response)) succeeded += response.summary().succeeded();
    out.stream = reader->Finish();
    if (out.stream.ok() && succeeded != 1) {
      out.stream = grpc::Status(grpc::INTERNAL, "the echo job did not succeed");
    }
  }
  {
    grpc::ClientContext ctx;
    prepare(&ctx);
    auto stream = stub->Process(&ctx);
    v1::ProcessRequest request;
    *request.add_jobs() = MakeJob("echo");
    stream->Write(request);  // Fails when the server has refused the call.
    stream->WritesDone();
    v1::ProcessResponse response;
    uint64_t succeeded = 0;
    while (stream->Read(&response)) succeeded += response.summary().succeeded();
    out.process = stream->Finish();
    if (out.process.ok() && succeeded != 1) {
      out.process =
          grpc::Status(grpc::INTERNAL, "the echo job did not succeed");
    }
  }
  return out;
}

// The value of jobgroup_rejected_total{reason="unauthenticated"}.
double UnauthenticatedCount(const ServerProcess& server) {
  std::string metrics;
  RunCommand(absl::StrCat("curl -s http://127.0.0.1:", server.metrics_port(),
                          "/metrics"),
             &metrics);
  std::smatch m;
  std::regex line(
      R"(jobgroup_rejected_total\{reason="unauthenticated"\} ([0-9.e+]+))");
  if (!std::regex_search(metrics, m, line)) return -1;
  return std::stod(m[1]);
}

// The jobgroup CLI of this build; empty when it was not built.
std::string CliPath() {
#ifdef JOBGROUP_CLI_PATH
  std::string path = JOBGROUP_CLI_PATH;
#else
  std::string path = JOBGROUPD_PATH;
  path = path.substr(0, path.rfind('/')) + "/client/jobgroup";
#endif
  return access(path.c_str(), X_OK) == 0 ? path : "";
}

TEST_F(SecurityTest, TlsIsServedAndPlainTextIsRefused) {
  ServerProcess server(JOBGROUPD_PATH, TlsFlags(/*mutual=*/false));
  ASSERT_NE(server.port(), 0);
  EXPECT_NE(server.Log().find("tls=on"), std::string::npos) << server.Log();
  // By IP address, and by name (the certificate has both).
  for (std::string name : {"", "localhost"}) {
    MethodStatuses s =
        CallEveryMethod(TlsChannel(server.target(), "", name), {});
    for (const auto& [method, status] : s.All()) {
      EXPECT_TRUE(status.ok())
          << method << " as " << name << ": " << status.error_message();
    }
  }
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, 5000);
  v1::GetServerInfoResponse response;
  grpc::Status plain = v1::JobService::NewStub(PlainChannel(server.target()))
                           ->GetServerInfo(&ctx, {}, &response);
  EXPECT_EQ(plain.error_code(), grpc::UNAVAILABLE) << plain.error_message();
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

TEST_F(SecurityTest, MutualTlsNeedsAClientCertificateSignedByTheCa) {
  ServerProcess server(JOBGROUPD_PATH, TlsFlags(/*mutual=*/true));
  ASSERT_NE(server.port(), 0);
  EXPECT_NE(server.Log().find("tls=mutual"), std::string::npos);
  MethodStatuses good =
      CallEveryMethod(TlsChannel(server.target(), "client"), {});
  for (const auto& [method, status] : good.All()) {
    EXPECT_TRUE(status.ok()) << method << ": " << status.error_message();
  }
  for (std::string client : {"", "rogue_client"}) {
    grpc::ClientContext ctx;
    SetDeadlineMs(&ctx, 5000);
    v1::GetServerInfoResponse response;
    grpc::Status s =
        v1::JobService::NewStub(TlsChannel(server.target(), client))
            ->GetServerInfo(&ctx, {}, &response);
    EXPECT_EQ(s.error_code(), grpc::UNAVAILABLE)
        << "client certificate \"" << client << "\": " << s.error_message();
  }
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

TEST_F(SecurityTest, EveryJobServiceCallNeedsAValidBearerToken) {
  ServerProcess server(JOBGROUPD_PATH,
                       {"--auth_tokens_file=" + Path("tokens")});
  ASSERT_NE(server.port(), 0);
  EXPECT_NE(server.Log().find("auth_tokens=2"), std::string::npos)
      << server.Log();
  auto channel = server.NewChannel();
  const std::vector<std::vector<std::string>> refused = {
      {},                                      // No metadata.
      {"Bearer wrong-token"},                  // Unknown token.
      {absl::StrCat("Bearer ", kAlpha, "x")},  // Longer.
      {absl::StrCat("Bearer ", std::string(kAlpha).substr(0, 10))},  // Prefix.
      {"Bearer "},                                    // Empty token.
      {kAlpha},                                       // No scheme.
      {absl::StrCat("Basic ", kAlpha)},               // Another scheme.
      {absl::StrCat("Bearer ", kAlpha), "Bearer x"},  // Two, one wrong.
  };
  for (const auto& authorization : refused) {
    MethodStatuses s = CallEveryMethod(channel, authorization);
    for (const auto& [method, status] : s.All()) {
      EXPECT_EQ(status.error_code(), grpc::UNAUTHENTICATED)
          << method << " with [" << absl::StrJoin(authorization, "; ")
          << "]: " << status.error_message();
      EXPECT_EQ(status.error_message(), kRefusal) << method;
    }
  }
  // Either token, the scheme in any case.
  for (const std::string& authorization :
       {absl::StrCat("Bearer ", kAlpha), absl::StrCat("bearer ", kBeta)}) {
    MethodStatuses s = CallEveryMethod(channel, {authorization});
    for (const auto& [method, status] : s.All()) {
      EXPECT_TRUE(status.ok()) << method << " with " << authorization << ": "
                               << status.error_message();
    }
  }
  // Every refusal counted, once.
  EXPECT_EQ(UnauthenticatedCount(server), refused.size() * 4);
  // Health and reflection need no token.
  EXPECT_EQ(HealthStatus(channel), 1);
  EXPECT_EQ(HealthStatus(channel, "jobgroup.v1.JobService"), 1);
  EXPECT_TRUE(Reflection(channel).ok());
  EXPECT_EQ(server.Stop(SIGTERM), 0);
  // No token is ever logged, right or wrong.
  std::string log = server.Log();
  EXPECT_NE(log.find("code=UNAUTHENTICATED"), std::string::npos) << log;
  for (const char* secret : {kAlpha, kBeta, "wrong-token"}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << secret << " in\n" << log;
  }
}

TEST_F(SecurityTest, HealthListenServesHealthAloneAndFollowsDrain) {
  std::vector<std::string> flags = TlsFlags(/*mutual=*/true);
  flags.push_back("--auth_tokens_file=" + Path("tokens"));
  flags.push_back("--health_listen=127.0.0.1:0");
  flags.push_back("--drain_timeout=5s");
  ServerProcess server(JOBGROUPD_PATH, flags);
  ASSERT_NE(server.port(), 0);
  std::smatch m;
  std::string log = server.Log();
  ASSERT_TRUE(std::regex_search(log, m, std::regex(R"(health_port=(\d+))")))
      << log;
  auto health = PlainChannel(absl::StrCat("127.0.0.1:", m[1].str()));
  auto main = TlsChannel(server.target(), "client");

  // Health without a token: on the main port (over mutual TLS) and on the
  // health port (plain text).
  for (const auto& channel : {main, health}) {
    EXPECT_EQ(HealthStatus(channel), 1);
    EXPECT_EQ(HealthStatus(channel, "jobgroup.v1.JobService"), 1);
  }
  // The health port offers nothing else.
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, 5000);
  v1::GetServerInfoResponse info;
  EXPECT_EQ(v1::JobService::NewStub(health)
                ->GetServerInfo(&ctx, {}, &info)
                .error_code(),
            grpc::UNIMPLEMENTED);
  EXPECT_EQ(Reflection(health).error_code(), grpc::UNIMPLEMENTED);
  EXPECT_TRUE(Reflection(main).ok());

  // A call in flight holds the drain; meanwhile both say NOT_SERVING.
  grpc::ClientContext call_ctx;
  call_ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kAlpha));
  SetDeadlineMs(&call_ctx, 10000);
  v1::RunBatchRequest request;
  *request.add_jobs() = MakeJob("sleep", {{"ms", "1500"}});
  v1::RunBatchResponse response;
  std::atomic<bool> done{false};
  grpc::Status call_status;
  auto stub = v1::JobService::NewStub(main);
  stub->async()->RunBatch(&call_ctx, &request, &response, [&](grpc::Status s) {
    call_status = s;
    done = true;
  });
  ASSERT_TRUE(WaitForInflightJobs(*stub, 1, 20000, kAlpha))
      << "the call never arrived";
  std::atomic<int> code{-2};
  std::thread stopper([&] { code = server.Stop(SIGTERM); });
  int status = 0;
  for (int i = 0; i < 100 && status != 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    status = HealthStatus(health);
  }
  EXPECT_EQ(status, 2);
  EXPECT_EQ(HealthStatus(health, "jobgroup.v1.JobService"), 2);
  EXPECT_FALSE(done.load());
  stopper.join();
  EXPECT_EQ(code.load(), 0);
  EXPECT_TRUE(done.load());
  EXPECT_TRUE(call_status.ok()) << call_status.error_message();
  EXPECT_EQ(response.summary().succeeded(), 1u);
}

TEST_F(SecurityTest, BadFilesStopStartUpWithTheFlagAndFileNamed) {
  const std::string missing = Path("missing.pem");
  WriteFile(Path("no_tokens"), "# none yet\n\n");
  WriteFile(Path("spaced_token"), "two words\n");
  struct Case {
    std::vector<std::string> flags;
    std::vector<std::string> expected;  // In the error line.
    // gRPC logs a failed bind itself; our line comes last.
    bool only_line = true;
  };
  const std::vector<Case> cases = {
      {{"--tls_cert=" + missing, "--tls_key=" + Path("server.key")},
       {"--tls_cert", missing}},
      {{"--tls_cert=" + Path("server.pem"), "--tls_key=" + missing},
       {"--tls_key", missing}},
      {{"--tls_cert=" + Path("tokens"), "--tls_key=" + Path("server.key")},
       {"--tls_cert", Path("tokens"), "no PEM certificate"}},
      {{"--tls_cert=" + Path("server.pem"), "--tls_key=" + Path("server.pem")},
       {"--tls_key", Path("server.pem"), "no unencrypted PEM private key"}},
      {{"--tls_cert=" + Path("server.pem"), "--tls_key=" + Path("client.key")},
       {"--tls_key", Path("client.key"), "not the key"}},
      {{"--tls_cert=" + Path("server.pem")}, {"--tls_key"}},
      {{"--tls_key=" + Path("server.key")}, {"--tls_cert"}},
      {{"--tls_cert=" + Path("server.pem"), "--tls_key=" + Path("server.key"),
        "--tls_client_ca=" + missing},
       {"--tls_client_ca", missing}},
      {{"--tls_client_ca=" + Path("ca.pem")}, {"--tls_client_ca"}},
      {{"--auth_tokens_file=" + missing}, {"--auth_tokens_file", missing}},
      {{"--auth_tokens_file=" + Path("no_tokens")},
       {"--auth_tokens_file", Path("no_tokens"), "no token"}},
      {{"--auth_tokens_file=" + Path("spaced_token")},
       {"--auth_tokens_file", Path("spaced_token"), "line 1"}},
      {{"--health_listen=256.0.0.1:1"},
       {"--health_listen", "256.0.0.1:1"},
       /*only_line=*/false},
  };
  for (const Case& c : cases) {
    std::string command =
        absl::StrCat("timeout 20 ", JOBGROUPD_PATH,
                     " --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0");
    for (const std::string& f : c.flags) absl::StrAppend(&command, " ", f);
    std::string output;
    int code = RunCommand(command, &output);
    EXPECT_TRUE(code == 1 || code == 2) << command << "\nexit " << code;
    ASSERT_FALSE(output.empty()) << command;
    std::string last = output.substr(0, output.size() - 1);
    last = last.substr(last.rfind('\n') + 1);
    EXPECT_TRUE(absl::StartsWith(last, "jobgroupd: --")) << command << "\n"
                                                         << output;
    if (c.only_line) {
      EXPECT_EQ(last.size() + 1, output.size())
          << command << ": not one line:\n"
          << output;
    }
    for (const std::string& e : c.expected) {
      EXPECT_NE(last.find(e), std::string::npos)
          << command << ": \"" << e << "\" not in:\n"
          << output;
    }
    // Neither a token nor key material leaks into the message.
    EXPECT_EQ(output.find("PRIVATE KEY"), std::string::npos) << output;
    EXPECT_EQ(output.find(kAlpha), std::string::npos) << output;
    EXPECT_EQ(output.find("two words"), std::string::npos) << output;
  }
}

TEST_F(SecurityTest, TheCliSpeaksMutualTlsWithAToken) {
  std::string cli = CliPath();
  if (cli.empty()) GTEST_SKIP() << "the jobgroup CLI was not built";
  std::vector<std::string> flags = TlsFlags(/*mutual=*/true);
  flags.push_back("--auth_tokens_file=" + Path("tokens"));
  ServerProcess server(JOBGROUPD_PATH, flags);
  ASSERT_NE(server.port(), 0);
  std::string tls = absl::StrCat(
      " --target ", server.target(), " --tls-ca ", Path("ca.pem"),
      " --tls-cert ", Path("client.pem"), " --tls-key ", Path("client.key"));
  std::string out;
  EXPECT_EQ(
      RunCommand(absl::StrCat(cli, " info", tls, " --token ", kAlpha), &out), 0)
      << out;
  EXPECT_EQ(RunCommand(absl::StrCat(cli, " run --kind echo --count 3", tls,
                                    " --token ", kBeta),
                       &out),
            0)
      << out;
  EXPECT_EQ(RunCommand(absl::StrCat("JOBGROUP_TOKEN=", kAlpha, " ", cli,
                                    " process --kind echo --count 3", tls),
                       &out),
            0)
      << out;
  // By name, through --tls-server-name.
  EXPECT_EQ(
      RunCommand(absl::StrCat(cli, " info", tls,
                              " --tls-server-name localhost --token ", kAlpha),
                 &out),
      0)
      << out;
  // Health needs no token.
  EXPECT_EQ(RunCommand(absl::StrCat(cli, " health", tls), &out), 0) << out;
  // Without a token, or with a wrong one, the call fails.
  EXPECT_EQ(RunCommand(absl::StrCat(cli, " info", tls), &out), 2) << out;
  EXPECT_NE(out.find(kRefusal), std::string::npos) << out;
  EXPECT_EQ(
      RunCommand(absl::StrCat(cli, " run --kind echo", tls, " --token nope"),
                 &out),
      2)
      << out;
  EXPECT_NE(out.find(kRefusal), std::string::npos) << out;
  // Without a client certificate the connection is refused.
  EXPECT_EQ(RunCommand(
                absl::StrCat(cli, " info --target ", server.target(),
                             " --tls-ca ", Path("ca.pem"), " --token ", kAlpha),
                &out),
            2)
      << out;
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace jobgroup::testing
