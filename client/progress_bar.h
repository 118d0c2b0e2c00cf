// ProgressBar: a one-line progress indicator for streaming calls, redrawn in
// place on a terminal (normally stderr) at most ten times a second. A
// disabled bar draws nothing, so callers need not test for a terminal.
//
// Thread-safety: not thread-safe; one thread calls Update() and Clear().
#ifndef JOBGROUP_CLIENT_PROGRESS_BAR_H_
#define JOBGROUP_CLIENT_PROGRESS_BAR_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "absl/time/time.h"

namespace jobgroup::client {

class ProgressBar {
 public:
  // `total` is the number of jobs when known ahead (a bar with a
  // percentage), nullopt otherwise (a counter). `out` must outlive the bar.
  ProgressBar(std::ostream& out, bool enabled, std::optional<uint64_t> total);
  ~ProgressBar();

  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // ProgressBar::Update() records `done` results of which `not_succeeded`
  // did not succeed, and `sent` jobs sent when the total is not known ahead;
  // redraws when the last drawing is 100 ms old or `force` is set.
  void Update(uint64_t done, uint64_t not_succeeded,
              std::optional<uint64_t> sent = std::nullopt, bool force = false);

  // ProgressBar::Clear() erases the line, so that what follows starts on a
  // clean one. Also called by the destructor.
  void Clear();

  // ProgressBar::Render() is the line drawn for these numbers, without the
  // carriage return; public for tests.
  static std::string Render(uint64_t done, uint64_t not_succeeded,
                            std::optional<uint64_t> sent,
                            std::optional<uint64_t> total, double rate);

 private:
  std::ostream& out_;
  const bool enabled_;
  const std::optional<uint64_t> total_;
  const absl::Time start_;
  absl::Time last_draw_ = absl::InfinitePast();
  bool drawn_ = false;
};

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_PROGRESS_BAR_H_
