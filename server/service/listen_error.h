// ListenError(): why a listening address could not be taken, in plain words.
// gRPC's ServerBuilder and civetweb (under prometheus-cpp's Exposer) only
// say that listening failed ("null context when constructing CivetServer");
// CheckListenAddress() (before listening) and ListenError() (after a
// failure) bind a socket of their own to the address to learn the reason,
// so that a second jobgroupd on a port in use says "address
// 127.0.0.1:50051 is already in use".
//
// Stateless; safe from any thread. They bind and close a socket at once.
#ifndef JOBGROUP_SERVER_SERVICE_LISTEN_ERROR_H_
#define JOBGROUP_SERVER_SERVICE_LISTEN_ERROR_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace jobgroup {

// CheckListenAddress() binds a socket to `address` (HOST:PORT,
// [V6HOST]:PORT or :PORT) and closes it: OK when that worked, otherwise an
// Unavailable status prefixed by `what` (e.g. "--metrics_listen"):
//   "<what>: address 127.0.0.1:50051 is already in use"
//   "<what>: cannot listen on 10.9.9.9:50051: Cannot assign requested address"
// An address that is not HOST:PORT with a numeric port (unix:PATH) is
// left to the listener: OK.
// Called before gRPC listens, it turns the common failure into one line
// before gRPC logs its own; the address may still be taken in between.
absl::Status CheckListenAddress(absl::string_view what,
                                absl::string_view address);

// ListenError() is CheckListenAddress() for a listen that failed: when the
// address binds now (or is not HOST:PORT), "<what>: cannot listen on
// ADDRESS".
absl::Status ListenError(absl::string_view what, absl::string_view address);

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_LISTEN_ERROR_H_
