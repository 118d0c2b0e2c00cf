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

#include <atomic>
#include <cstdint>

namespace jobgroup {

class StreamLimit {
 public:
  explicit StreamLimit(uint64_t limit) : limit_(limit) {}
  StreamLimit(const StreamLimit&) = delete;
  StreamLimit& operator=(const StreamLimit&) = delete;

  // StreamLimit::TryOpen()
  //
  // Takes a slot when fewer than limit() are open; false (nothing taken)
  // otherwise.
  bool TryOpen() {
    uint64_t n = open_.load(std::memory_order_relaxed);
    while (n < limit_) {
      if (open_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }

  // StreamLimit::Close()
  //
  // Gives back a slot TryOpen() took. Exactly once per successful TryOpen().
  void Close() { open_.fetch_sub(1, std::memory_order_relaxed); }

  uint64_t open() const { return open_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return limit_; }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> open_{0};
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_STREAM_LIMIT_H_
