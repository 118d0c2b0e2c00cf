// Implementation of StatusHttpServer.
#include "server/service/status_http_server.h"

#include <zlib.h>

#include <chrono>
#include <cstring>
#include <utility>

#include "civetweb.h"
#include "prometheus/metric_family.h"
#include "prometheus/text_serializer.h"
#include "server/service/exposer_stop.h"
#include "server/service/status_page.h"

namespace jobgroup {
namespace {

// `body` gzipped (as prometheus-cpp's Exposer did it); empty on error.
std::string GzipCompress(const std::string& body) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 9,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return "";
  }
  std::string out;
  out.resize(deflateBound(&zs, body.size()));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  zs.avail_in = static_cast<uInt>(body.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  size_t n = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return "";
  out.resize(n);
  return out;
}

bool AcceptsGzip(mg_connection* conn) {
  const char* accept = mg_get_header(conn, "Accept-Encoding");
  return accept != nullptr && std::strstr(accept, "gzip") != nullptr;
}

// Writes a whole response; returns the status code (civetweb's "handled").
int Reply(mg_connection* conn, int code, const char* reason,
          const char* content_type, const std::string& body, bool head,
          const char* extra_headers = "") {
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
            "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
            "%sContent-Length: %lu\r\n\r\n",
            code, reason, content_type, extra_headers,
            static_cast<unsigned long>(body.size()));
  if (!head) mg_write(conn, body.data(), body.size());
  return code;
}

// The HTML pages run no script and load nothing from anywhere.
constexpr const char* kHtmlHeaders =
    "Content-Security-Policy: default-src 'none'; style-src "
    "'unsafe-inline'\r\n";

// civetweb's own messages (a refused bind, a dropped request) are not
// written anywhere: ServerMetrics says why a listen failed in its words.
int QuietLog(const mg_connection*, const char*) { return 1; }

}  // namespace

StatusHttpServer::StatusHttpServer(
    std::vector<std::weak_ptr<prometheus::Collectable>> collectables,
    SnapshotFn snapshot)
    : own_(std::make_shared<prometheus::Registry>()),
      collectables_(std::move(collectables)),
      snapshot_(std::move(snapshot)) {
  bytes_transferred_ = &prometheus::BuildCounter()
                            .Name("exposer_transferred_bytes_total")
                            .Help("Transferred bytes to metrics services")
                            .Register(*own_)
                            .Add({});
  scrapes_ = &prometheus::BuildCounter()
                  .Name("exposer_scrapes_total")
                  .Help("Number of times metrics were scraped")
                  .Register(*own_)
                  .Add({});
  latencies_ =
      &prometheus::BuildSummary()
           .Name("exposer_request_latencies")
           .Help("Latencies of serving scrape requests, in microseconds")
           .Register(*own_)
           .Add({}, prometheus::Summary::Quantiles{
                        {0.5, 0.05}, {0.9, 0.01}, {0.99, 0.001}});
}

std::unique_ptr<StatusHttpServer> StatusHttpServer::Start(
    const std::string& address,
    std::vector<std::weak_ptr<prometheus::Collectable>> collectables,
    SnapshotFn snapshot) {
  std::unique_ptr<StatusHttpServer> server(
      new StatusHttpServer(std::move(collectables), std::move(snapshot)));
  // Four threads, and a request that does not arrive whole within 2 s is
  // dropped: a client that sends half a request holds one thread for 2 s,
  // not every scrape for civetweb's default 30 s.
  const char* options[] = {
      "listening_ports",    address.c_str(), "num_threads", "4",
      "request_timeout_ms", "2000",          nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = QuietLog;
  server->ctx_ = mg_start(&callbacks, nullptr, options);
  if (server->ctx_ == nullptr) return nullptr;
  // "/" matches every path; Handle() dispatches on the exact one.
  mg_set_request_handler(server->ctx_, "/", &StatusHttpServer::Handle,
                         server.get());
  return server;
}

StatusHttpServer::~StatusHttpServer() {
  if (ctx_ == nullptr) return;
  StopListenerAtOnce(ports(), [this] { mg_stop(ctx_); });
}

std::vector<int> StatusHttpServer::ports() const {
  std::vector<int> out;
  if (ctx_ == nullptr) return out;
  mg_server_port ports[8];
  int n = mg_get_server_ports(ctx_, 8, ports);
  for (int i = 0; i < n; ++i) out.push_back(ports[i].port);
  return out;
}

int StatusHttpServer::Handle(mg_connection* conn, void* self) {
  auto* server = static_cast<StatusHttpServer*>(self);
  const mg_request_info* info = mg_get_request_info(conn);
  const char* method = info->request_method ? info->request_method : "";
  const bool head = std::strcmp(method, "HEAD") == 0;
  if (!head && std::strcmp(method, "GET") != 0) {
    return Reply(conn, 405, "Method Not Allowed", "text/plain; charset=utf-8",
                 "method not allowed\n", false, "Allow: GET, HEAD\r\n");
  }
  const std::string uri = info->local_uri ? info->local_uri : "";
  if (uri == "/metrics") return server->ServeMetrics(conn, head);
  if (uri == "/statusz") return server->ServeStatus(conn, false, head);
  if (uri == "/statusz.json") return server->ServeStatus(conn, true, head);
  if (uri == "/") {
    return Reply(conn, 200, "OK", "text/html; charset=utf-8", RenderIndexHtml(),
                 head, kHtmlHeaders);
  }
  return Reply(conn, 404, "Not Found", "text/plain; charset=utf-8",
               "not found; see /\n", head);
}

int StatusHttpServer::ServeMetrics(mg_connection* conn, bool head) {
  auto start = std::chrono::steady_clock::now();
  std::vector<prometheus::MetricFamily> families = own_->Collect();
  for (const auto& weak : collectables_) {
    std::shared_ptr<prometheus::Collectable> c = weak.lock();
    if (!c) continue;
    std::vector<prometheus::MetricFamily> more = c->Collect();
    families.insert(families.end(), std::make_move_iterator(more.begin()),
                    std::make_move_iterator(more.end()));
  }
  std::string body = prometheus::TextSerializer().Serialize(families);
  const char* encoding = "";
  if (AcceptsGzip(conn)) {
    std::string gz = GzipCompress(body);
    if (!gz.empty()) {
      body = std::move(gz);
      encoding = "Content-Encoding: gzip\r\n";
    }
  }
  // The content type prometheus-cpp's Exposer sent.
  Reply(conn, 200, "OK", "text/plain; charset=utf-8", body, head, encoding);
  auto took = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start);
  latencies_->Observe(static_cast<double>(took.count()));
  bytes_transferred_->Increment(static_cast<double>(body.size()));
  scrapes_->Increment();
  return 200;
}

int StatusHttpServer::ServeStatus(mg_connection* conn, bool json, bool head) {
  std::optional<admin::v1::ServerSnapshot> snapshot;
  if (snapshot_) snapshot = snapshot_();
  if (json) {
    if (!snapshot) {
      return Reply(conn, 503, "Service Unavailable",
                   "application/json; charset=utf-8",
                   "{\"error\":\"status not available\"}\n", head);
    }
    return Reply(conn, 200, "OK", "application/json; charset=utf-8",
                 RenderStatusJson(*snapshot), head);
  }
  return Reply(
      conn, 200, "OK", "text/html; charset=utf-8",
      snapshot ? RenderStatusHtml(*snapshot) : RenderStatusUnavailableHtml(),
      head, kHtmlHeaders);
}

}  // namespace jobgroup
