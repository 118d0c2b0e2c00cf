// Implementation of the occupancy kind.
#include "examples/occupancy_kind/occupancy_kind.h"

#include <atomic>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "server/core/mutex.h"
#include "server/core/semaphore.h"
#include "server/kinds/builtin_kinds.h"

namespace jobgroup::examples {
namespace {

// Occupancy jobs inside each backend now.
class Occupancy {
 public:
  std::atomic<int64_t>& Of(const std::string& backend) {
    MutexLock lock(&mu_);
    auto& slot = counters_[backend];
    if (!slot) slot = std::make_unique<std::atomic<int64_t>>(0);
    return *slot;
  }

 private:
  Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<std::atomic<int64_t>>>
      counters_ ABSL_GUARDED_BY(mu_);
};

Occupancy& Counters() {
  static Occupancy* occupancy = new Occupancy;
  return *occupancy;
}

}  // namespace

absl::Status RegisterOccupancyKind(KindRegistry& registry) {
  return registry.RegisterAsync(
      {"occupancy", "local",
       "Counts the occupancy jobs inside its backend when it enters, waits "
       "params.ms milliseconds, and returns that count."},
      [](std::shared_ptr<JobContext> ctx) {
        std::atomic<int64_t>& inside =
            Counters().Of(ctx->job().resolved_backend->name());
        int64_t seen = inside.fetch_add(1) + 1;
        int64_t ms = *IntParam(ctx->job(), "ms", 0, 0, 3'600'000);
        auto leave = std::make_shared<std::atomic<bool>>(false);
        // Leaves the backend exactly once, on finish or on cancel.
        auto finish = [ctx, &inside, leave](absl::StatusOr<std::string> out) {
          if (!leave->exchange(true)) inside.fetch_sub(1);
          ctx->Finish(std::move(out));
        };
        TimerService::TimerId id = ctx->timers().ScheduleAfter(
            absl::Milliseconds(ms),
            [finish, seen] { finish(absl::StrCat(seen)); });
        ctx->OnCancel([ctx, id, finish] {
          if (ctx->timers().Cancel(id)) {
            finish(absl::CancelledError("occupancy cancelled"));
          }
        });
      },
      [](const JobSpec& job) {
        return IntParam(job, "ms", 0, 0, 3'600'000).status();
      });
}

}  // namespace jobgroup::examples
