// What ThreadSanitizer must not report in the core's tests, built into each
// test binary (TSan reads this hook at start-up; other builds ignore it).
//
// Debian's Abseil is not built with TSan. absl::Status copies its heap rep
// with an inline (instrumented) atomic increment, but drops it in
// Status::UnrefNonInlined() inside libabsl_status.so, whose acquire/release
// decrement TSan cannot see; the `delete` there then looks like a race with
// the last increment on another thread (issue 14: "a non-atomic write of 8
// bytes by the main thread to memory a worker had written atomically"). The
// decrement is correct (acq_rel). The library tail-calls `delete`, so the
// report's stack shows the inline Status::Unref(), which is what is
// suppressed: only races on a Status rep being dropped, the way the core's
// Mutex keeps absl::Mutex out of TSan's sight (mutex.h).
extern "C" const char* __tsan_default_suppressions() {
  return "race:absl::*Status::Unref\n";
}
