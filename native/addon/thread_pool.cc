#include "addon/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <memory>

namespace tce {

namespace {
thread_local bool in_pool_task = false;
}

ThreadPool& ThreadPool::Shared() {
  // Never destroyed: worker threads must not be joined from a static destructor at exit, when
  // Node may already have torn down what they touch.
  static ThreadPool* pool = new ThreadPool(std::max(1u, std::thread::hardware_concurrency()) - 1);
  return *pool;
}

ThreadPool::ThreadPool(size_t threads) {
  for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::WorkerLoop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    in_pool_task = true;
    task();
    in_pool_task = false;
  }
}

void ThreadPool::ParallelFor(size_t n, size_t grain,
                             const std::function<void(size_t, size_t)>& body) {
  if (n == 0) return;
  grain = std::max<size_t>(1, grain);
  const size_t max_chunks = (n + grain - 1) / grain;
  const size_t chunks = std::min(max_chunks, size() * 4);
  if (chunks <= 1 || workers_.empty() || in_pool_task) {
    body(0, n);
    return;
  }

  struct Shared {
    std::atomic<size_t> next{0};
    std::mutex mutex;
    std::condition_variable done;
    size_t finished = 0;
    std::exception_ptr error;
  };
  auto shared = std::make_shared<Shared>();
  const size_t chunk_size = (n + chunks - 1) / chunks;
  auto run_chunks = [shared, &body, n, chunk_size, chunks] {
    for (;;) {
      const size_t c = shared->next.fetch_add(1);
      if (c >= chunks) return;
      const size_t begin = c * chunk_size;
      const size_t end = std::min(n, begin + chunk_size);
      std::exception_ptr error;
      if (begin < end) {
        try {
          body(begin, end);
        } catch (...) {
          error = std::current_exception();
        }
      }
      std::lock_guard<std::mutex> lock(shared->mutex);
      if (error && !shared->error) shared->error = error;
      if (++shared->finished == chunks) shared->done.notify_all();
    }
  };

  const size_t helpers = std::min(workers_.size(), chunks - 1);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (size_t i = 0; i < helpers; ++i) tasks_.emplace_back(run_chunks);
  }
  wake_.notify_all();
  run_chunks();
  std::unique_lock<std::mutex> lock(shared->mutex);
  // `body` lives on this frame: wait until every chunk has finished with it.
  shared->done.wait(lock, [&] { return shared->finished == chunks; });
  if (shared->error) std::rethrow_exception(shared->error);
}

}  // namespace tce
