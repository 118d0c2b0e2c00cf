// Implementation of the built-in job kinds.
#include "server/kinds/builtin_kinds.h"

#include <openssl/evp.h>

#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace jobgroup {
namespace {

constexpr int64_t kMaxSleepMs = 24 * 3600 * 1000;
constexpr int64_t kMaxRounds = 100'000'000;

// What a parked job ends with: its payload, or when `fail` the error
// params.message. Made when the timer fires, so that the parked callback
// holds nothing but the context (small enough to need no allocation).
absl::StatusOr<std::string> SleepOutcome(const JobContext& ctx, bool fail) {
  if (fail) {
    return absl::UnknownError(std::string(ctx.Param("message", "failed")));
  }
  return ctx.job().payload;
}

// Parks the job on the timer for `ms`, then finishes it with
// SleepOutcome(kFail); cancellation cancels the timer and finishes at once.
template <bool kFail>
void ParkThenFinish(std::shared_ptr<JobContext> ctx, int64_t ms) {
  TimerService& timers = ctx->timers();
  TimerService::TimerId id =
      timers.ScheduleAfter(absl::Milliseconds(ms),
                           [ctx] { ctx->Finish(SleepOutcome(*ctx, kFail)); });
  ctx->OnCancel([ctx, id] {
    if (ctx->timers().Cancel(id)) {
      ctx->Finish(absl::CancelledError("sleep cancelled"));
    }
  });
}

absl::Status ValidateSleep(const JobSpec& job) {
  return IntParam(job, "ms", 0, 0, kMaxSleepMs).status();
}

absl::Status ValidateCompute(const JobSpec& job) {
  return IntParam(job, "rounds", 1, 1, kMaxRounds).status();
}

absl::Status ValidateFail(const JobSpec& job) {
  return IntParam(job, "ms", 0, 0, kMaxSleepMs).status();
}

// SHA-256, fetched from OpenSSL's providers once: fetching it again for
// every round (what EVP_sha256() in EVP_DigestInit_ex() does) cost about
// three quarters of each round.
const EVP_MD* Sha256() {
  static const EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

absl::StatusOr<std::string> Compute(JobContext& ctx) {
  int64_t rounds = *IntParam(ctx.job(), "rounds", 1, 1, kMaxRounds);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(),
                                                             EVP_MD_CTX_free);
  const std::string& payload = ctx.job().payload;
  const EVP_MD* sha256 = Sha256();
  if (!md || sha256 == nullptr ||
      !EVP_DigestInit_ex2(md.get(), sha256, nullptr) ||
      !EVP_DigestUpdate(md.get(), payload.data(), payload.size()) ||
      !EVP_DigestFinal_ex(md.get(), digest, &len)) {
    return absl::InternalError("sha256 failed");
  }
  for (int64_t i = 1; i < rounds; ++i) {
    if ((i & 1023) == 0 && ctx.IsCancelled()) {
      return absl::CancelledError(
          absl::StrCat("compute cancelled after ", i, " rounds"));
    }
    // A null type reuses the context's digest: no fetch, no reference
    // counting, per round.
    if (!EVP_DigestInit_ex2(md.get(), nullptr, nullptr) ||
        !EVP_DigestUpdate(md.get(), digest, len) ||
        !EVP_DigestFinal_ex(md.get(), digest, &len)) {
      return absl::InternalError("sha256 failed");
    }
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), len));
}

}  // namespace

absl::StatusOr<int64_t> IntParam(const JobSpec& job, absl::string_view name,
                                 int64_t fallback, int64_t min, int64_t max) {
  if (!job.HasParam(name)) return fallback;
  absl::string_view text = job.Param(name);
  int64_t v;
  if (!absl::SimpleAtoi(text, &v)) {
    return absl::InvalidArgumentError(
        absl::StrCat("params.", name, ": \"", text, "\" is not an integer"));
  }
  if (v < min || v > max) {
    return absl::InvalidArgumentError(absl::StrCat(
        "params.", name, ": ", v, " is out of range [", min, ", ", max, "]"));
  }
  return v;
}

absl::Status RegisterBuiltinKinds(KindRegistry& registry) {
  absl::Status s =
      registry.Register({"echo", "local", "Returns the payload as the output."},
                        [](JobContext& ctx) -> absl::StatusOr<std::string> {
                          return ctx.job().payload;
                        });
  if (!s.ok()) return s;
  s = registry.RegisterAsync(
      {"sleep", "local",
       "Waits params.ms milliseconds without holding a thread, then returns "
       "the payload; stops at once when cancelled."},
      [](std::shared_ptr<JobContext> ctx) {
        int64_t ms = *IntParam(ctx->job(), "ms", 0, 0, kMaxSleepMs);
        ParkThenFinish</*kFail=*/false>(std::move(ctx), ms);
      },
      ValidateSleep);
  if (!s.ok()) return s;
  s = registry.Register(
      {"compute", "cpu",
       "SHA-256 of the payload iterated params.rounds times (default 1); "
       "returns the hex digest."},
      Compute, ValidateCompute);
  if (!s.ok()) return s;
  return registry.RegisterAsync(
      {"fail", "local",
       "Fails with params.message (default \"failed\"), after params.ms "
       "milliseconds if given."},
      [](std::shared_ptr<JobContext> ctx) {
        int64_t ms = *IntParam(ctx->job(), "ms", 0, 0, kMaxSleepMs);
        if (ms == 0) {
          ctx->Finish(SleepOutcome(*ctx, /*fail=*/true));
          return;
        }
        ParkThenFinish</*kFail=*/true>(std::move(ctx), ms);
      },
      ValidateFail);
}

}  // namespace jobgroup
