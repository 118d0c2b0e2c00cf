// Tests of the tables that look names up remembering each thread's last hit
// (last_hit.h): KindRegistry::Find() and BackendSet::Find() must never
// answer for another table, another name, or an entry since replaced.
#include "server/core/last_hit.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "server/core/backends.h"
#include "server/core/job_kind.h"

namespace jobgroup {
namespace {

std::unique_ptr<KindRegistry> RegistryWith(const std::string& kind,
                                           const std::string& backend) {
  auto r = std::make_unique<KindRegistry>();
  EXPECT_TRUE(r->Register({kind, backend, ""}, [](JobContext&) {
                 return absl::StatusOr<std::string>("");
               }).ok());
  return r;
}

TEST(KindRegistryTest, FindAnswersForItsOwnRegistryAndName) {
  auto a = RegistryWith("k", "a");
  auto b = RegistryWith("k", "b");
  ASSERT_TRUE(a->Register({"other", "a", ""}, [](JobContext&) {
                 return absl::StatusOr<std::string>("");
               }).ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_NE(a->Find("k"), nullptr);
    EXPECT_EQ(a->Find("k")->info.backend, "a");
    EXPECT_EQ(b->Find("k")->info.backend, "b");
    EXPECT_EQ(a->Find("other")->info.name, "other");
    EXPECT_EQ(b->Find("other"), nullptr);
    EXPECT_EQ(a->Find("k")->info.name, "k");
    EXPECT_EQ(a->Find("missing"), nullptr);
    EXPECT_EQ(a->Find(""), nullptr);
  }
}

TEST(KindRegistryTest, ANewRegistryIsNeverAnsweredFromAnOldOnesHit) {
  // Registries made and destroyed in turn (the allocator often gives the
  // new one the old one's address): each finds its own kind.
  for (int i = 0; i < 50; ++i) {
    auto r = RegistryWith("k", "backend" + std::to_string(i));
    ASSERT_EQ(r->Find("k")->info.backend, "backend" + std::to_string(i));
  }
}

TEST(BackendSetTest, FindAnswersForItsOwnSetAndName) {
  BackendSet a, b;
  ASSERT_TRUE(a.Add({"db", 3}).ok());
  ASSERT_TRUE(a.Add({"cpu", 2}).ok());
  ASSERT_TRUE(b.Add({"db", 7}).ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_NE(a.Find("db"), nullptr);
    EXPECT_EQ(a.Find("db")->capacity(), 3);
    EXPECT_EQ(b.Find("db")->capacity(), 7);
    EXPECT_EQ(a.Find("cpu")->name(), "cpu");
    EXPECT_EQ(b.Find("cpu"), nullptr);
    EXPECT_EQ(a.Find("missing"), nullptr);
    EXPECT_EQ(a.Find(""), nullptr);
  }
}

TEST(BackendSetTest, ABackendAddedAgainIsFoundAsItsNewSelf) {
  // Add() replaces the semaphore of a backend not yet used: a thread that
  // found the old one must not be answered with it (freed) again; without
  // the new table id, AddressSanitizer reports the read of the freed one.
  BackendSet set;
  ASSERT_TRUE(set.Add({"db", 3}).ok());
  ASSERT_EQ(set.Find("db")->capacity(), 3);
  ASSERT_TRUE(set.Add({"db", 5}).ok());
  ASSERT_NE(set.Find("db"), nullptr);
  EXPECT_EQ(set.Find("db")->capacity(), 5);
}

}  // namespace
}  // namespace jobgroup
