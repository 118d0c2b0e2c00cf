// jobgroupd-example: jobgroupd with the example kinds added: `occupancy`
// (counts jobs inside a backend from inside the handlers) and `stubborn` (a
// handler that ignores cancellation).
#include "examples/occupancy_kind/occupancy_kind.h"
#include "examples/stubborn_kind/stubborn_kind.h"
#include "server/jobgroupd_main.h"

int main(int argc, char** argv) {
  return jobgroup::RunJobgroupd(argc, argv, [](jobgroup::KindRegistry& r) {
    absl::Status s = jobgroup::examples::RegisterOccupancyKind(r);
    return s.ok() ? jobgroup::examples::RegisterStubbornKind(r) : s;
  });
}
