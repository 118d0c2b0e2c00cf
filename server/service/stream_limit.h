// StreamLimit: the cap on streams open at once in the whole server
// (--max_open_streams), across connections and services: every RunBatch,
// StreamBatch and Process call and every grpc.health.v1.Health Watch takes
// one slot while it runs. Past the cap a new stream is refused at once
// (RESOURCE_EXHAUSTED, by its caller) instead of being held, so the memory
// and timers of open streams are bounded by the cap, not by the clients.
//
// StreamLimit::TryOpen() takes a slot or returns false; Close() gives one
// back. Thread-safe (one atomic); never blocks.
#ifndef JOBGROUP_SERVER_SERVICE_STREAM_LIMIT_H_
#define JOBGROUP_SERVER_SERVICE_STREAM_LIMIT_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/core/admission.h"

namespace jobgroup {

class StreamLimit {
 public:
  explicit StreamLimit(uint64_t limit) : slots_(limit) {}
  StreamLimit(const StreamLimit&) = delete;
  StreamLimit& operator=(const StreamLimit&) = delete;

  // StreamLimit::TryOpen()
  //
  // Takes a slot when fewer than limit() are open; false (nothing taken)
  // otherwise.
  bool TryOpen() { return slots_.TryAcquire(1); }

  // StreamLimit::Close()
  //
  // Gives back a slot TryOpen() took. Exactly once per successful TryOpen().
  void Close() { slots_.Release(1); }

  // The refusal of a stream that found every slot taken, for a caller that
  // sends no retry hint of its own: RESOURCE_EXHAUSTED naming the limit.
  absl::Status Refusal() const {
    return absl::ResourceExhaustedError(
        absl::StrCat("the server has its limit of ", limit(),
                     " streams open (--max_open_streams); retry later"));
  }

  uint64_t open() const { return slots_.used(); }
  uint64_t limit() const { return slots_.limit(); }

 private:
  AdmissionLimit slots_;  // The server's one kind of non-blocking cap.
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_STREAM_LIMIT_H_
