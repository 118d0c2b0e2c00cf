// jobgroupd-example: jobgroupd with the example `occupancy` kind added.
#include "examples/occupancy_kind/occupancy_kind.h"
#include "server/jobgroupd_main.h"

int main(int argc, char** argv) {
  return jobgroup::RunJobgroupd(argc, argv,
                                jobgroup::examples::RegisterOccupancyKind);
}
