// Tests of OutcomeLedger: each job settles once, a second outcome or one
// for a job never taken is refused and counted, and jobs left without an
// outcome are found.
#include "server/core/outcome_ledger.h"

#include "gtest/gtest.h"

namespace jobgroup {
namespace {

TEST(OutcomeLedgerTest, EachJobSettlesOnceAndIsTallied) {
  OutcomeLedger ledger;
  ledger.Extend(3);
  EXPECT_FALSE(ledger.full());
  EXPECT_TRUE(ledger.Settle(0, JobOutcome::kSucceeded));
  EXPECT_TRUE(ledger.Settle(2, JobOutcome::kFailed));
  EXPECT_TRUE(ledger.Settle(1, JobOutcome::kSucceeded));
  EXPECT_TRUE(ledger.full());
  EXPECT_EQ(ledger.summary().total, 3u);
  EXPECT_EQ(ledger.summary().count(JobOutcome::kSucceeded), 2u);
  EXPECT_EQ(ledger.summary().count(JobOutcome::kFailed), 1u);
  EXPECT_TRUE(ledger.TakeLost().empty());
}

TEST(OutcomeLedgerTest, ASecondOutcomeIsRefusedAndCounted) {
  LifecycleErrors before = GetLifecycleErrors();
  OutcomeLedger ledger;
  ledger.Extend(200);  // Past the inline words too.
  EXPECT_TRUE(ledger.Settle(150, JobOutcome::kSucceeded));
  EXPECT_FALSE(ledger.Settle(150, JobOutcome::kCancelled));
  EXPECT_FALSE(ledger.Settle(200, JobOutcome::kSucceeded));  // Never taken.
  EXPECT_EQ(ledger.summary().total, 1u);
  EXPECT_EQ(ledger.summary().count(JobOutcome::kCancelled), 0u);
  EXPECT_EQ(GetLifecycleErrors().duplicate_outcomes,
            before.duplicate_outcomes + 2);
}

TEST(OutcomeLedgerTest, JobsWithoutAnOutcomeAreFoundAndCounted) {
  LifecycleErrors before = GetLifecycleErrors();
  OutcomeLedger ledger;
  ledger.Extend(70);
  for (uint64_t i = 0; i < 70; ++i) {
    if (i != 3 && i != 64) ledger.Settle(i, JobOutcome::kSucceeded);
  }
  EXPECT_EQ(ledger.TakeLost(), (std::vector<uint64_t>{3, 64}));
  EXPECT_EQ(GetLifecycleErrors().lost_outcomes, before.lost_outcomes + 2);
  ledger.Extend(71);  // A call that grows (Process) gets new slots.
  EXPECT_TRUE(ledger.Settle(70, JobOutcome::kSucceeded));
}

TEST(OutcomeLedgerDeathTest, ErrorsAreFatalWhereTestsAskForIt) {
  EXPECT_DEATH(
      {
        SetLifecycleErrorsFatal(true);
        OutcomeLedger ledger;
        ledger.Extend(1);
        ledger.Settle(0, JobOutcome::kSucceeded);
        ledger.Settle(0, JobOutcome::kSucceeded);
      },
      "job 0 has a second outcome");
}

}  // namespace
}  // namespace jobgroup
