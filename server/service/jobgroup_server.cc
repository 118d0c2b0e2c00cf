// Implementation of JobgroupServer.
#include "server/service/jobgroup_server.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "server/kinds/builtin_kinds.h"
#include "server/kinds/http_kind.h"
#include "server/service/listen_error.h"

namespace jobgroup {
namespace {

constexpr char kJobServiceName[] = "jobgroup.v1.JobService";
// gRPC's threads at most (its ResourceQuota): the sync server's pollers
// and handlers (reflection; every other service uses the callback API).
constexpr int kGrpcMaxThreads = 16;

// Reads the PEM file that --`flag` names; errors name both.
absl::StatusOr<std::string> ReadPemFile(absl::string_view flag,
                                        const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read ", path, ": ", std::strerror(errno)));
  }
  std::string pem;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) pem.append(buf, n);
  int error = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (error != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read ", path, ": ", std::strerror(error)));
  }
  return pem;
}

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

// The first certificate in `pem`; null when there is none.
X509Ptr FirstCertificate(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509Ptr cert(
      bio ? PEM_read_bio_X509(bio, nullptr, nullptr, nullptr) : nullptr,
      X509_free);
  BIO_free(bio);
  ERR_clear_error();
  return cert;
}

// The private key in `pem`; null when there is none or it is encrypted
// (OpenSSL would otherwise prompt for a passphrase on the terminal).
KeyPtr PrivateKey(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  pem_password_cb* no_passphrase = [](char*, int, int, void*) { return -1; };
  KeyPtr key(bio ? PEM_read_bio_PrivateKey(bio, nullptr, no_passphrase, nullptr)
                 : nullptr,
             EVP_PKEY_free);
  BIO_free(bio);
  ERR_clear_error();
  return key;
}

// The gRPC port's credentials: plain text, TLS (--tls_cert, --tls_key) or
// mutual TLS (and --tls_client_ca). The files are checked here, so that a
// bad one stops start-up with an error naming the flag and the file rather
// than failing every handshake later.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const ServerOptions& o) {
  if (o.tls_cert_file.empty() && o.tls_key_file.empty()) {
    if (!o.tls_client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "--tls_client_ca: needs --tls_cert and --tls_key as well");
    }
    return grpc::InsecureServerCredentials();
  }
  if (o.tls_cert_file.empty()) {
    return absl::InvalidArgumentError("--tls_key: needs --tls_cert as well");
  }
  if (o.tls_key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert: needs --tls_key as well");
  }
  absl::StatusOr<std::string> cert = ReadPemFile("--tls_cert", o.tls_cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPemFile("--tls_key", o.tls_key_file);
  if (!key.ok()) return key.status();
  X509Ptr leaf = FirstCertificate(*cert);
  if (leaf == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls_cert: ", o.tls_cert_file, " holds no PEM certificate"));
  }
  KeyPtr private_key = PrivateKey(*key);
  if (private_key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_key: ", o.tls_key_file,
                     " holds no unencrypted PEM private key"));
  }
  if (X509_check_private_key(leaf.get(), private_key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls_key: ", o.tls_key_file, " is not the key of the certificate in ",
        o.tls_cert_file, " (--tls_cert)"));
  }
  grpc::SslServerCredentialsOptions ssl(
      GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  if (!o.tls_client_ca_file.empty()) {
    absl::StatusOr<std::string> ca =
        ReadPemFile("--tls_client_ca", o.tls_client_ca_file);
    if (!ca.ok()) return ca.status();
    if (FirstCertificate(*ca) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tls_client_ca: ", o.tls_client_ca_file,
                       " holds no PEM certificate"));
    }
    ssl.pem_root_certs = *std::move(ca);
    ssl.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  ssl.pem_key_cert_pairs.push_back({*std::move(key), *std::move(cert)});
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

const char* JobgroupVersion() { return JOBGROUP_VERSION; }

JobgroupServer::JobgroupServer(ServerOptions options)
    : options_(std::move(options)),
      logger_(options_.log_json, options_.log_level),
      call_log_(options_.log_calls_per_second) {}

absl::StatusOr<std::unique_ptr<JobgroupServer>> JobgroupServer::Start(
    ServerOptions options, KindRegistrar extra_kinds) {
  std::unique_ptr<JobgroupServer> server(
      new JobgroupServer(std::move(options)));
  absl::Status s = server->Init(extra_kinds);
  if (!s.ok()) return s;
  return server;
}

absl::Status JobgroupServer::Init(const KindRegistrar& extra_kinds) {
  const ServerOptions& o = options_;
  // Default backends; --backend adds to them or changes their capacity.
  absl::Status s =
      backends_.Add({"local", static_cast<int64_t>(o.max_inflight_jobs)});
  if (s.ok()) s = backends_.Add({"cpu", static_cast<int64_t>(o.workers)});
  for (const BackendSpec& b : o.backends) {
    if (s.ok()) s = backends_.Add(b);
  }
  memory_ = std::make_unique<MemoryBudget>(o.memory_budget_bytes / 4 * 3);
  if (s.ok()) s = RegisterBuiltinKinds(kinds_);
  if (s.ok()) s = RegisterHttpKind(kinds_, backends_, o.http, memory_.get());
  if (s.ok() && extra_kinds) s = extra_kinds(kinds_);
  if (!s.ok()) return s;
  for (const JobKind* k : kinds_.List()) {
    if (backends_.Find(k->info.backend) == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("kind ", k->info.name, " uses backend ", k->info.backend,
                       ", which is not configured"));
    }
  }

  // A handler that runs past 10 ms (a compute job of many rounds) gets a
  // spare thread put in its place, up to --workers spares: long jobs never
  // hold every worker while other calls' jobs wait (WorkerPool).
  SpareThreads spares;
  spares.long_after = absl::Milliseconds(10);
  workers_ = std::make_unique<WorkerPool>(o.workers, o.queue_capacity, spares);
  streams_ = std::make_unique<StreamLimit>(o.max_open_streams);
  if (o.adaptive_limit) {
    AdaptiveLimit::Options a;
    a.max_limit = o.max_inflight_jobs;
    a.delay_floor = o.adaptive_limit_queue_delay;
    adaptive_ = std::make_unique<AdaptiveLimit>(a);
  }
  metrics_ = std::make_unique<ServerMetrics>(
      kinds_,
      LiveSources{workers_.get(), &backends_, nullptr, &jobs_in_flight_,
                  streams_.get(), memory_.get(), adaptive_.get()},
      JobgroupVersion());
  executor_ =
      std::make_unique<Executor>(workers_.get(), &timers_, metrics_.get());
  metrics_->WatchExecutor(executor_.get());
  std::vector<std::string> configured;
  for (const BackendSpec& b : o.backends) configured.push_back(b.name);
  absl::StatusOr<KindBackends> kind_backends =
      KindBackends::Create(kinds_, backends_, configured, o.kind_backends);
  if (!kind_backends.ok()) return kind_backends.status();
  kind_backends_ = *std::move(kind_backends);
  validator_ = std::make_unique<RequestValidator>(&options_, &kinds_,
                                                  &backends_, &kind_backends_);
  admission_ = std::make_unique<AdmissionLimit>(o.max_inflight_jobs);

  ServiceContext ctx;
  ctx.options = &options_;
  ctx.kinds = &kinds_;
  ctx.backends = &backends_;
  ctx.executor = executor_.get();
  ctx.workers = workers_.get();
  ctx.validator = validator_.get();
  ctx.metrics = metrics_.get();
  ctx.logger = &logger_;
  ctx.call_log = &call_log_;
  ctx.admission = admission_.get();
  ctx.adaptive = adaptive_.get();
  ctx.memory = memory_.get();
  ctx.calls = &calls_;
  ctx.draining = &draining_;
  ctx.jobs_in_flight = &jobs_in_flight_;
  ctx.open_calls = &open_calls_;
  ctx.streams = streams_.get();
  ctx.version = JobgroupVersion();
  ctx.server_name = options_.server_name;
  service_ = std::make_unique<JobServiceImpl>(std::move(ctx));
  status_ = std::make_unique<ServerStatus>(service_->context(), absl::Now());
  // /statusz and /statusz.json on the metrics port show the top 50 calls.
  metrics_->SetStatusSource(
      [status = status_.get()] { return status->Snapshot(absl::Now(), 50); });
  if (o.admin_authenticator != nullptr) {
    admin_service_ = std::make_unique<AdminServiceImpl>(
        &service_->context(), status_.get(), o.admin_authenticator);
  }

  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      ServerCredentialsFor(o);
  if (!credentials.ok()) return credentials.status();
  if (!o.metrics_listen.empty()) {
    s = metrics_->Serve(o.metrics_listen);
    if (!s.ok()) return s;
  }

  // Links health.proto's descriptor in, for server reflection. Health is
  // jobgroup's own (HealthService), whose Watch streams are capped.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::EnableDefaultHealthCheckService(false);
  health_service_ =
      std::make_unique<HealthService>(std::vector<std::string>{kJobServiceName},
                                      streams_.get(), metrics_.get());
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  if (s = CheckListenAddress("", o.listen); !s.ok()) return s;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(o.listen, *credentials, &port_);
  // gRPC sets SO_REUSEPORT by default, so a second jobgroupd on the same
  // port would start and silently share the traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(service_.get());
  builder.RegisterService(health_service_.get());
  if (admin_service_ != nullptr && o.admin_listen.empty()) {
    builder.RegisterService(admin_service_.get());
  }
  // gRPC's own buffers (messages being received, before any call sees
  // them, and sent) get the quarter of the budget that requests do not;
  // under pressure gRPC reads less and refuses new streams. Threads:
  // gRPC's pollers and the sync services (reflection); the callback
  // calls do not take one each.
  grpc::ResourceQuota quota("jobgroupd");
  quota.Resize(static_cast<size_t>(o.memory_budget_bytes / 4));
  quota.SetMaxThreads(kGrpcMaxThreads);
  builder.SetResourceQuota(quota);
  builder.SetMaxReceiveMessageSize(static_cast<int>(o.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(o.max_message_bytes));
  // Long-lived client connections are closed now and then (gracefully), so
  // clients rebalance when replicas come and go.
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_AGE_MS,
      static_cast<int>(absl::ToInt64Milliseconds(o.max_connection_age)));
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
      static_cast<int>(absl::ToInt64Milliseconds(o.max_connection_age_grace)));
  // Streams one connection may have open at once; a client past it waits
  // in its own transport (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS).
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             static_cast<int>(o.max_concurrent_streams));
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) return ListenError("", o.listen);
  if (admin_service_ != nullptr && !o.admin_listen.empty()) {
    // The admin API alone on its own address (an operators' network, a
    // port-forward), with the same credentials as --listen.
    if (s = CheckListenAddress("--admin_listen", o.admin_listen); !s.ok()) {
      return s;
    }
    grpc::ServerBuilder admin;
    admin.AddListeningPort(o.admin_listen, *credentials, &admin_port_);
    admin.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    admin.RegisterService(admin_service_.get());
    admin_server_ = admin.BuildAndStart();
    if (!admin_server_ || admin_port_ == 0) {
      return ListenError("--admin_listen", o.admin_listen);
    }
  }
  if (!o.health_listen.empty()) {
    absl::StatusOr<std::unique_ptr<HealthServer>> health = HealthServer::Start(
        o.health_listen, {kJobServiceName}, streams_.get(), metrics_.get());
    if (!health.ok()) return health.status();
    health_ = *std::move(health);
  }
  SetServing(true);

  std::vector<std::string> backends;
  for (const Semaphore* b : backends_.List()) {
    backends.push_back(absl::StrCat(b->name(), "=", b->capacity()));
  }
  std::vector<std::string> kinds;
  for (const JobKind* k : kinds_.List()) kinds.push_back(k->info.name);
  const char* tls = o.tls_cert_file.empty()        ? "off"
                    : o.tls_client_ca_file.empty() ? "on"
                                                   : "mutual";
  size_t tokens = o.authenticator ? o.authenticator->token_count() : 0;
  logger_.Lifecycle(
      "started", absl::StrCat("jobgroupd ", JobgroupVersion()),
      {{"version", JobgroupVersion()},
       {"listen", o.listen},
       {"port", absl::StrCat(port_)},
       {"metrics_listen", o.metrics_listen},
       {"metrics_port", absl::StrCat(metrics_->port())},
       {"health_listen", o.health_listen},
       {"health_port", absl::StrCat(health_port())},
       {"admin_listen", o.admin_listen},
       {"admin_port", absl::StrCat(admin_port_)},
       {"tls", tls},
       {"auth_tokens", absl::StrCat(tokens)},
       {"workers", absl::StrCat(o.workers)},
       {"queue_capacity", absl::StrCat(o.queue_capacity)},
       {"backends", absl::StrJoin(backends, ",")},
       {"kinds", absl::StrJoin(kinds, ",")},
       {"max_jobs_per_call", absl::StrCat(o.max_jobs_per_call)},
       {"max_payload_bytes", absl::StrCat(o.max_payload_bytes)},
       {"max_message_bytes", absl::StrCat(o.max_message_bytes)},
       {"memory_budget_bytes", absl::StrCat(o.memory_budget_bytes)},
       {"max_inflight_jobs", absl::StrCat(o.max_inflight_jobs)},
       {"max_concurrency", absl::StrCat(o.max_concurrency)},
       {"default_deadline", absl::FormatDuration(o.default_deadline)},
       {"max_deadline", absl::FormatDuration(o.max_deadline)},
       {"drain_timeout", absl::FormatDuration(o.drain_timeout)},
       {"stream_idle_timeout", absl::FormatDuration(o.stream_idle_timeout)},
       {"max_concurrent_streams", absl::StrCat(o.max_concurrent_streams)},
       {"max_open_streams", absl::StrCat(o.max_open_streams)}});
  return absl::OkStatus();
}

void JobgroupServer::SetServing(bool serving) {
  health_service_->SetServing(serving);
  if (health_) health_->SetServing(serving);
}

void JobgroupServer::Drain() {
  if (draining_.exchange(true)) {
    drained_.WaitForNotification();
    return;
  }
  absl::Time start = absl::Now();
  SetServing(false);
  logger_.Lifecycle(
      "draining", "",
      {{"calls_in_flight", absl::StrCat(calls_.size())},
       {"drain_timeout", absl::FormatDuration(options_.drain_timeout)}});
  absl::Time give_up = start + options_.drain_timeout;
  while (calls_.size() > 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  size_t left = calls_.size();
  if (left > 0) {
    logger_.Warn("drain_timeout", "cancelling the calls still running",
                 {{"calls", absl::StrCat(left)}});
    calls_.CancelAll(CancelCause::kDrain,
                     absl::CancelledError("the server is shutting down"));
    absl::Time wait_until = absl::Now() + absl::Seconds(2);
    while (calls_.size() > 0 && absl::Now() < wait_until) {
      absl::SleepFor(absl::Milliseconds(5));
    }
  }
  // A call leaves the registry as it sends its last reply; gRPC is done
  // with it a little later. Once every call is, Shutdown() needs almost no
  // grace: it would otherwise wait all of it for idle client connections
  // to close. Else it lets the last replies go out, then cancels the rest.
  absl::Time calls_over_by = absl::Now() + absl::Seconds(1);
  while (open_calls_.load() > 0 && absl::Now() < calls_over_by) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  auto grace = open_calls_.load() == 0 ? std::chrono::milliseconds(50)
                                       : std::chrono::milliseconds(1000);
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  if (admin_server_) admin_server_->Shutdown(std::chrono::system_clock::now());
  if (health_) health_->Shutdown();
  timers_.Shutdown();
  int64_t stuck = executor_->running_handlers();
  if (stuck == 0) {
    workers_->Shutdown();
  } else {
    // A handler that ignores cancellation must not hold the process: its
    // job already has its outcome; the worker is left behind at exit.
    logger_.Warn("stuck_handlers", "exiting without waiting for them",
                 {{"handlers", absl::StrCat(stuck)}});
  }
  logger_.Lifecycle(
      "stopped", "",
      {{"drain_ms",
        absl::StrCat(absl::ToInt64Milliseconds(absl::Now() - start))},
       {"cancelled_calls", absl::StrCat(left)}});
  drained_.Notify();
}

JobgroupServer::~JobgroupServer() {
  // Page requests in progress finish before anything the snapshot reads
  // goes; later ones say the status is not available.
  if (metrics_) metrics_->SetStatusSource(nullptr);
  if (server_ && !drained_.HasBeenNotified()) {
    server_->Shutdown(std::chrono::system_clock::now());
    if (admin_server_) {
      admin_server_->Shutdown(std::chrono::system_clock::now());
    }
  }
  if (executor_ && executor_->running_handlers() > 0) {
    // Stuck workers cannot be joined; leave them (the process is ending).
    workers_.release();
  }
}

}  // namespace jobgroup
