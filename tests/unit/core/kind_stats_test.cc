// Tests of KindStats and KindStatsTable: one record per kind, empty until
// runs are recorded, fed as a running average.
#include "server/core/kind_stats.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace jobgroup {
namespace {

TEST(KindStatsTest, EachKindHasItsOwnRecordForTheTablesLife) {
  JobKind a, b;
  KindStatsTable table;
  KindStats& sa = table.For(a);
  EXPECT_EQ(&table.For(a), &sa);
  EXPECT_NE(&table.For(b), &sa);
  EXPECT_EQ(sa.typical_run_ns(), 0) << "unknown before any run";
  sa.RecordRuns(absl::Microseconds(10), 10);
  EXPECT_EQ(sa.typical_run_ns(), 1000);
  EXPECT_EQ(table.For(b).typical_run_ns(), 0) << "b's record is apart";
  // Weighed 1/4 against what was known: 1000 and a mean of 5000 make 2000.
  sa.RecordRuns(absl::Microseconds(50), 10);
  EXPECT_EQ(sa.typical_run_ns(), 2000);
}

TEST(KindStatsTest, ThreadsAskingForTheSameKindGetTheSameRecord) {
  JobKind kind;
  KindStatsTable table;
  std::vector<KindStats*> seen(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&, i] {
      seen[i] = &table.For(kind);
      seen[i]->RecordRuns(absl::Microseconds(1), 1);
    });
  }
  for (std::thread& t : threads) t.join();
  for (KindStats* s : seen) EXPECT_EQ(s, seen[0]);
  EXPECT_EQ(seen[0]->typical_run_ns(), 1000);
}

}  // namespace
}  // namespace jobgroup
