// Micro-benchmarks of the core (Google Benchmark), in ns per operation:
// queue push and pop, semaphore acquire and release, timer schedule and
// cancel, a cancelled task group settling its jobs, and job dispatch inside the
// process (no gRPC): the ceiling for the service's job throughput.
#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "benchmark/benchmark.h"
#include "server/core/backends.h"
#include "server/core/bounded_queue.h"
#include "server/core/executor.h"
#include "server/core/job_kind.h"
#include "server/core/notification.h"
#include "server/core/semaphore.h"
#include "server/core/task_group.h"
#include "server/core/timer_service.h"
#include "server/core/worker_pool.h"

namespace jobgroup {
namespace {

void BM_QueuePushPop(benchmark::State& state) {
  BoundedQueue<int> q(1024);
  for (auto _ : state) {
    int v = 1;
    q.Push(v);
    benchmark::DoNotOptimize(q.TryPop());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_QueuePushPop);

// One producer thread and one consumer thread through a small queue.
void BM_QueueTwoThreads(benchmark::State& state) {
  for (auto _ : state) {
    constexpr int kItems = 100000;
    BoundedQueue<int> q(256);
    std::thread consumer([&] {
      while (q.Pop()) {
      }
    });
    for (int i = 0; i < kItems; ++i) {
      int v = i;
      q.PushOrPark(v);
    }
    q.Close();
    consumer.join();
    state.SetItemsProcessed(state.items_processed() + kItems);
  }
}
BENCHMARK(BM_QueueTwoThreads)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SemaphoreUncontended(benchmark::State& state) {
  Semaphore sem("b", 8);
  for (auto _ : state) {
    benchmark::DoNotOptimize(sem.TryAcquire());
    sem.Release();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SemaphoreUncontended);

// Acquire with a parked waiter handed the permit on release.
void BM_SemaphoreParkedWaiter(benchmark::State& state) {
  Semaphore sem("b", 1);
  sem.TryAcquire();
  int64_t served = 0;
  for (auto _ : state) {
    sem.AcquireOrWait([&](absl::Duration) { ++served; });
    sem.Release();  // Hands the permit to the waiter.
  }
  benchmark::DoNotOptimize(served);
  sem.Release();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SemaphoreParkedWaiter);

// Two threads contending for a semaphore of capacity 1.
void BM_SemaphoreContended(benchmark::State& state) {
  static Semaphore* sem = new Semaphore("b", 1);
  for (auto _ : state) {
    while (!sem->TryAcquire()) {
    }
    sem->Release();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SemaphoreContended)->Threads(2)->UseRealTime();

void BM_TimerScheduleCancel(benchmark::State& state) {
  TimerService timers;
  for (auto _ : state) {
    auto id = timers.ScheduleAfter(absl::Seconds(60), [] {});
    timers.Cancel(id);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TimerScheduleCancel);

class CountingSink : public ResultSink {
 public:
  bool OnResult(JobResult) override { return true; }
  void OnDone(const BatchSummary& s) override {
    total = s.total;
    done.Notify();
  }
  Notification done;
  uint64_t total = 0;
};

// A call cancelled before its jobs come: AddJobs() settles them all in one
// pass over the ledger and delivers them, with no executor work.
void BM_TaskGroupCancelledSettle(benchmark::State& state) {
  TimerService timers;
  WorkerPool pool(1, 16);
  Executor executor(&pool, &timers);
  auto job = std::make_shared<JobSpec>();
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    CountingSink sink;
    auto group = TaskGroup::Create(&executor, {}, &sink);
    group->Cancel(CancelCause::kClient);
    group->AddJobs(n, [job](uint64_t) { return job; });
    group->CloseInput();
    benchmark::DoNotOptimize(sink.total);
  }
  state.SetItemsProcessed(state.iterations() * n);
  pool.Shutdown();
}
BENCHMARK(BM_TaskGroupCancelledSettle)->Arg(1000);

// Whole batches of echo jobs through the real executor: permits, the
// ready queue, worker threads, the task group and results; no gRPC.
void BM_InProcessDispatch(benchmark::State& state) {
  TimerService timers;
  WorkerPool pool(std::max(2u, std::thread::hardware_concurrency()), 4096);
  BackendSet backends;
  (void)backends.Add({"local", 1 << 24});
  KindRegistry kinds;
  (void)kinds.Register({"echo", "local", ""},
                       [](JobContext& ctx) -> absl::StatusOr<std::string> {
                         return ctx.job().payload;
                       });
  Executor executor(&pool, &timers);
  auto job = std::make_shared<JobSpec>();
  job->kind = "echo";
  job->payload = "x";
  job->resolved_kind = kinds.Find("echo");
  job->resolved_backend = backends.Find("local");
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    CountingSink sink;
    auto run = TaskGroup::Create(&executor, {}, &sink);
    run->AddJobs(n, [job](uint64_t) { return job; });
    run->CloseInput();
    sink.done.WaitForNotification();
  }
  state.SetItemsProcessed(state.iterations() * n);
  pool.Shutdown();
}
BENCHMARK(BM_InProcessDispatch)
    ->Arg(10)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace jobgroup

BENCHMARK_MAIN();
