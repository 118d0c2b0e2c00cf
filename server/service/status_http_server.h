// StatusHttpServer: the HTTP endpoint of --metrics_listen, on civetweb.
//
//   /              an index linking the pages below
//   /metrics       Prometheus text format: the collectables it was given,
//                  after its own exposer_* families (as prometheus-cpp's
//                  Exposer served them); gzip when the client accepts it
//   /statusz       what the server is doing now, as HTML (status_page.h)
//   /statusz.json  the same ServerSnapshot as JSON
//
// Each /statusz and /statusz.json request calls the snapshot function;
// when it returns nothing the pages say "status not available" (HTML) or
// answer 503 (JSON). Anything else is 404; methods but GET and HEAD, 405.
//
// civetweb runs 4 threads, and a request that does not arrive whole within
// 2 s is dropped. The destructor stops the server at once
// (StopListenerAtOnce, exposer_stop.h).
//
// Thread-safe: requests are served on civetweb's threads, so the
// collectables and the snapshot function must be safe from any thread.
#ifndef JOBGROUP_SERVER_SERVICE_STATUS_HTTP_SERVER_H_
#define JOBGROUP_SERVER_SERVICE_STATUS_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "jobgroup/admin/v1/admin.pb.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "prometheus/summary.h"

struct mg_connection;
struct mg_context;

namespace jobgroup {

class StatusHttpServer {
 public:
  using SnapshotFn = std::function<std::optional<admin::v1::ServerSnapshot>()>;

  // Listens on `address` (HOST:PORT, [V6HOST]:PORT); null when civetweb
  // cannot (it does not say why: see listen_error.h).
  static std::unique_ptr<StatusHttpServer> Start(
      const std::string& address,
      std::vector<std::weak_ptr<prometheus::Collectable>> collectables,
      SnapshotFn snapshot);
  ~StatusHttpServer();
  StatusHttpServer(const StatusHttpServer&) = delete;
  StatusHttpServer& operator=(const StatusHttpServer&) = delete;

  // The ports listened on.
  std::vector<int> ports() const;

 private:
  StatusHttpServer(
      std::vector<std::weak_ptr<prometheus::Collectable>> collectables,
      SnapshotFn snapshot);
  static int Handle(mg_connection* conn, void* self);
  int ServeMetrics(mg_connection* conn, bool head);
  int ServeStatus(mg_connection* conn, bool json, bool head);

  // exposer_transferred_bytes_total, exposer_scrapes_total and
  // exposer_request_latencies, as prometheus-cpp's Exposer had them.
  std::shared_ptr<prometheus::Registry> own_;
  prometheus::Counter* bytes_transferred_ = nullptr;
  prometheus::Counter* scrapes_ = nullptr;
  prometheus::Summary* latencies_ = nullptr;
  const std::vector<std::weak_ptr<prometheus::Collectable>> collectables_;
  const SnapshotFn snapshot_;
  mg_context* ctx_ = nullptr;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_STATUS_HTTP_SERVER_H_
