// StopExposer(): stops a prometheus::Exposer at once.
//
// civetweb (under the Exposer) looks at its stop flag only between polls
// of its listening sockets, and each poll waits up to 2 s for a
// connection: an idle /metrics port made every SIGTERM take up to 2 s more.
// StopExposer() destroys the exposer while it knocks on its port (a
// loopback connection, closed at once) every few milliseconds, so the poll
// returns and civetweb sees the flag.
//
// Thread-compatible: call it from the one thread that owns the exposer.
#ifndef JOBGROUP_SERVER_SERVICE_EXPOSER_STOP_H_
#define JOBGROUP_SERVER_SERVICE_EXPOSER_STOP_H_

#include <memory>

#include "prometheus/exposer.h"

namespace jobgroup {

// Destroys `exposer` (may be null). Its port is reached on 127.0.0.1 and
// ::1, which covers the wildcard and loopback addresses; on any other
// address the stop takes civetweb's own time.
void StopExposer(std::unique_ptr<prometheus::Exposer> exposer);

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_EXPOSER_STOP_H_
