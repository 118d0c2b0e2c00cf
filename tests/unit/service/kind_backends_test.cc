// Tests of KindBackends: the flag's parse, the default rule (a kind's own
// backend and the --backend ones, never another kind's built-in one) and
// the operator's lists.
#include "server/service/kind_backends.h"

#include "gtest/gtest.h"

namespace jobgroup {
namespace {

absl::StatusOr<std::string> Echo(JobContext& ctx) { return ctx.job().payload; }

class KindBackendsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(backends_.Add({"local", 100}).ok());
    ASSERT_TRUE(backends_.Add({"cpu", 2}).ok());
    ASSERT_TRUE(backends_.Add({"db", 10}).ok());
    ASSERT_TRUE(backends_.Add({"cache", 5}).ok());
    ASSERT_TRUE(kinds_.Register({"echo", "local", ""}, Echo).ok());
    ASSERT_TRUE(kinds_.Register({"compute", "cpu", ""}, Echo).ok());
    ASSERT_TRUE(kinds_.Register({"sleep", "local", ""}, Echo).ok());
  }
  const JobKind* Kind(const char* name) { return kinds_.Find(name); }
  const Semaphore* Backend(const char* name) { return backends_.Find(name); }

  KindRegistry kinds_;
  BackendSet backends_;
};

TEST_F(KindBackendsTest, ByDefaultAKindMayNameItsOwnAndTheConfiguredOnes) {
  // db was given with --backend; cache was not (an extra kind added it).
  absl::StatusOr<KindBackends> kb =
      KindBackends::Create(kinds_, backends_, {"db"}, {});
  ASSERT_TRUE(kb.ok()) << kb.status();
  EXPECT_TRUE(kb->Allows(Kind("compute"), Backend("cpu")));
  EXPECT_TRUE(kb->Allows(Kind("compute"), Backend("db")));
  // The bypass of a reserved cpu backend through local is closed.
  EXPECT_FALSE(kb->Allows(Kind("compute"), Backend("local")));
  EXPECT_FALSE(kb->Allows(Kind("echo"), Backend("cpu")));
  EXPECT_FALSE(kb->Allows(Kind("echo"), Backend("cache")));
  EXPECT_TRUE(kb->Allows(Kind("echo"), Backend("local")));
  EXPECT_EQ(kb->AllowedNames(Kind("compute")),
            (std::vector<std::string>{"cpu", "db"}));
}

TEST_F(KindBackendsTest, AConfiguredBuiltInBackendIsOpenToEveryKind) {
  // --backend=cpu=1 configures cpu: every kind may then name it.
  absl::StatusOr<KindBackends> kb =
      KindBackends::Create(kinds_, backends_, {"cpu"}, {});
  ASSERT_TRUE(kb.ok());
  EXPECT_TRUE(kb->Allows(Kind("echo"), Backend("cpu")));
  EXPECT_FALSE(kb->Allows(Kind("compute"), Backend("local")));
}

TEST_F(KindBackendsTest, TheOperatorsListIsExactlyWhatAKindMayName) {
  absl::StatusOr<std::vector<KindBackendsSpec>> specs =
      ParseKindBackends({"sleep:db", "local", "compute:cpu"});
  ASSERT_TRUE(specs.ok()) << specs.status();
  ASSERT_EQ(specs->size(), 2u);
  absl::StatusOr<KindBackends> kb =
      KindBackends::Create(kinds_, backends_, {"db", "cache"}, *specs);
  ASSERT_TRUE(kb.ok()) << kb.status();
  EXPECT_TRUE(kb->Allows(Kind("sleep"), Backend("db")));
  EXPECT_TRUE(kb->Allows(Kind("sleep"), Backend("local")));
  EXPECT_FALSE(kb->Allows(Kind("sleep"), Backend("cache")));
  EXPECT_TRUE(kb->Allows(Kind("compute"), Backend("cpu")));
  EXPECT_FALSE(kb->Allows(Kind("compute"), Backend("db")));
  // echo is not listed: the default rule.
  EXPECT_TRUE(kb->Allows(Kind("echo"), Backend("cache")));
}

TEST_F(KindBackendsTest, BadEntriesAreRefusedNamingWhatIsWrong) {
  for (std::vector<std::string> parts : {std::vector<std::string>{"db"},
                                         {"sleep:"},
                                         {":db"},
                                         {"sleep:db", " "}}) {
    absl::StatusOr<std::vector<KindBackendsSpec>> specs =
        ParseKindBackends(parts);
    EXPECT_FALSE(specs.ok()) << parts[0];
    EXPECT_NE(specs.status().message().find("--kind_backends"),
              absl::string_view::npos);
  }
  auto create = [&](std::vector<std::string> parts) {
    return KindBackends::Create(kinds_, backends_, {},
                                *ParseKindBackends(parts))
        .status();
  };
  absl::Status unknown_kind = create({"resize:db"});
  EXPECT_NE(unknown_kind.message().find("kind \"resize\""), std::string::npos)
      << unknown_kind;
  absl::Status unknown_backend = create({"sleep:mysql"});
  EXPECT_NE(unknown_backend.message().find("backend \"mysql\""),
            std::string::npos)
      << unknown_backend;
  absl::Status twice = create({"sleep:db", "sleep:local"});
  EXPECT_NE(twice.message().find("twice"), std::string::npos) << twice;
}

}  // namespace
}  // namespace jobgroup
