// Tests of KindRegistry::Find(), whose per-thread memory of its last hit
// must never answer for another registry or another name.
#include "server/core/job_kind.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"

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

}  // namespace
}  // namespace jobgroup
