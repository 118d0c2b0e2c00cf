// StopListenerAtOnce(): stops a civetweb server (the metrics and status
// endpoint, StatusHttpServer) at once.
//
// civetweb looks at its stop flag only between polls of its listening
// sockets, and each poll waits up to 2 s for a connection: an idle
// metrics port made every SIGTERM take up to 2 s more. StopListenerAtOnce()
// runs the stop (mg_stop(), which waits for civetweb's threads) while it
// knocks on the server's ports (a loopback connection, closed at once)
// every few milliseconds, so the poll returns and civetweb sees the flag.
//
// Thread-compatible: call it from the one thread that owns the server.
#ifndef JOBGROUP_SERVER_SERVICE_EXPOSER_STOP_H_
#define JOBGROUP_SERVER_SERVICE_EXPOSER_STOP_H_

#include <vector>

#include "absl/functional/function_ref.h"

namespace jobgroup {

// Runs `stop`, which stops a server listening on `ports` and returns once
// it has stopped, knocking on those ports until it returns. The ports are
// reached on 127.0.0.1 and ::1, which covers the wildcard and loopback
// addresses; on any other address the stop takes civetweb's own time.
void StopListenerAtOnce(const std::vector<int>& ports,
                        absl::FunctionRef<void()> stop);

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_EXPOSER_STOP_H_
