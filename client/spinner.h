// Spinner: a one-line "still working" indicator for a call that gives no
// progress until it ends (a RunBatch), drawn on a terminal (normally
// stderr) by a thread of its own: a turning bar and the time elapsed,
// redrawn in place every 100 ms, and erased by Stop() so that what follows
// (the summary) starts on a clean line. A disabled spinner starts no thread
// and writes nothing, so callers need not test for a terminal.
//
//   Spinner spinner(*console.err, enabled, "RunBatch, 5000 jobs");
//   spinner.Start();
//   ... the blocking call ...
//   spinner.Stop();
//
// Thread-safety: Start() and Stop() are called by one thread; between them
// the spinner's thread owns `out`, so nobody else may write to it.
#ifndef JOBGROUP_CLIENT_SPINNER_H_
#define JOBGROUP_CLIENT_SPINNER_H_

#include <ostream>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace jobgroup::client {

class Spinner {
 public:
  // `out` must outlive the spinner. `label` says what is waited for. The
  // first frame is drawn `first_frame_after` after Start(), so that a call
  // ending sooner leaves nothing on the screen.
  Spinner(std::ostream& out, bool enabled, std::string label,
          absl::Duration first_frame_after = absl::Milliseconds(200));
  ~Spinner();  // Stop()s.

  Spinner(const Spinner&) = delete;
  Spinner& operator=(const Spinner&) = delete;

  // Spinner::Start() starts drawing (once; a second call does nothing).
  void Start();

  // Spinner::Stop() stops drawing, waits for the thread and erases the
  // line if anything was drawn. Idempotent.
  void Stop();

  // Spinner::Frame() is the line drawn `elapsed` after Start(), without
  // the carriage return: "| RunBatch, 5000 jobs  1.2s". The bar turns one
  // step per 100 ms. Public for tests.
  static std::string Frame(absl::string_view label, absl::Duration elapsed);

 private:
  void Draw();

  std::ostream& out_;
  const bool enabled_;
  const std::string label_;
  const absl::Duration first_frame_after_;
  std::thread thread_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_SPINNER_H_
