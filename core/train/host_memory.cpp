#include "core/train/host_memory.h"

#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace dtbench {

namespace {

class HostCache;
HostCache* installed = nullptr;

// Buffers come from c10's alloc_cpu, as the default allocator's do, and every DataPtr is a
// plain pointer (context = data), so that raw_allocate/raw_deallocate (oneDNN's scratch,
// among others) work through raw_deleter().
class HostCache final : public c10::Allocator {
 public:
  HostCache() {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    limit_ = pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * static_cast<std::size_t>(page) / 8 : 1ull << 32;
  }

  c10::DataPtr allocate(std::size_t n) override {
    if (n < kSmallest) {
      void* p = c10::alloc_cpu(n);
      return {p, p, &c10::free_cpu, c10::Device(c10::DeviceType::CPU)};
    }
    void* p = take(n);
    if (p == nullptr) {
      p = c10::alloc_cpu(n);
      std::lock_guard<std::mutex> lock(mutex_);
      live_[p] = n;
    }
    return {p, p, &give_back, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &give_back; }
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }

  std::size_t cached() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_;
  }

 private:
  static constexpr std::size_t kSmallest = 1 << 20;

  // A cached buffer of exactly n bytes, or none; on a miss with too much cached, the cache is
  // emptied first (a size that stopped recurring should not pin memory).
  void* take(std::size_t n) {
    std::vector<void*> released;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(n);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_ -= n;
        live_[p] = n;
        return p;
      }
      if (cached_ + n > limit_) {
        for (auto& [bytes, buffers] : free_) released.insert(released.end(), buffers.begin(), buffers.end());
        free_.clear();
        cached_ = 0;
      }
    }
    for (void* p : released) c10::free_cpu(p);
    return nullptr;
  }

  // A buffer of ours goes back to the cache; anything else (a small buffer handed to
  // raw_deallocate) is freed.
  static void give_back(void* p) {
    if (p == nullptr) return;
    HostCache* self = installed;
    {
      std::lock_guard<std::mutex> lock(self->mutex_);
      auto it = self->live_.find(p);
      if (it != self->live_.end()) {
        self->free_[it->second].push_back(p);
        self->cached_ += it->second;
        self->live_.erase(it);
        return;
      }
    }
    c10::free_cpu(p);
  }

  std::size_t limit_;
  std::mutex mutex_;
  std::unordered_map<void*, std::size_t> live_;  // large buffers handed out, by address
  std::unordered_map<std::size_t, std::vector<void*>> free_;
  std::size_t cached_ = 0;
};

}  // namespace

void keep_freed_host_memory() {
  const char* v = std::getenv("DTBENCH_KEEP_FREED_MEMORY");
  if (installed != nullptr || (v != nullptr && std::strcmp(v, "0") == 0)) return;
  installed = new HostCache();  // lives as long as the process: buffers may outlive main()
  c10::SetCPUAllocator(installed, /*priority=*/1);
}

std::size_t cached_host_bytes() { return installed == nullptr ? 0 : installed->cached(); }

}  // namespace dtbench
