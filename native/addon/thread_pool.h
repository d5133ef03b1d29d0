// A process-wide pool of native threads for CPU work (tokenization, batch building).
//
// ParallelFor blocks its caller, which works too, so it can be called from any thread: a libuv
// worker, a model's executor thread or a pool thread (nested calls run inline rather than
// deadlocking on a pool that is already busy with their parent).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tce {

class ThreadPool {
 public:
  static ThreadPool& Shared();

  explicit ThreadPool(size_t threads);
  ~ThreadPool();

  size_t size() const { return workers_.size() + 1; }  // the caller of ParallelFor works too

  // Runs body(begin, end) over [0, n) in chunks of at least `grain` items; rethrows the first
  // exception thrown by any chunk after all chunks have finished.
  void ParallelFor(size_t n, size_t grain, const std::function<void(size_t, size_t)>& body);

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

 private:
  void WorkerLoop();

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
};

}  // namespace tce
