// Persistent worker threads for the native addons' parallel loops. A thread created per call cost
// 0.1-1 ms inside a training step (an ORT process holds hundreds of threads and a large address
// space; a new stack is an mmap, a finished one an munmap with a TLB shootdown), more than a batch
// norm pass of a small layer takes. Workers start on first use and then wait on a condition variable.
// One caller at a time: the addons run on the JS thread.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

class WorkerPool {
 public:
  // body(0) on the calling thread, body(1..tasks-1) on workers; returns when all are done.
  void run(size_t tasks, const std::function<void(size_t)> &body) {
    if (tasks <= 1) return body(0);
    {
      std::unique_lock<std::mutex> lock(mutex_);
      while (workers_.size() < tasks - 1) workers_.emplace_back(&WorkerPool::loop, this, workers_.size() + 1);
      job_ = &body;
      tasks_ = tasks;
      pending_ = tasks - 1;
      generation_++;
    }
    wake_.notify_all();
    body(0);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
  }

  // Never destroyed: workers still waiting at exit are simply ended with the process.
  static WorkerPool &shared() {
    static WorkerPool *pool = new WorkerPool();
    return *pool;
  }

 private:
  void loop(size_t index) {
    size_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (index >= tasks_) continue;
      const std::function<void(size_t)> *job = job_;
      lock.unlock();
      (*job)(index);
      lock.lock();
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  const std::function<void(size_t)> *job_ = nullptr;
  size_t tasks_ = 0, pending_ = 0, generation_ = 0;
};
