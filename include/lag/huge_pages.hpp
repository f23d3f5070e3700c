// Large arrays in 2 MB pages where the system offers them (Linux transparent huge pages in
// "madvise" mode, or "always"). Streaming a shard from 2 MB pages takes far fewer TLB misses: on
// the build machine one thread reads 17-18 GB/s from them against 12.6-14.5 GB/s from 4 kB pages,
// and the gradient kernels speed up with it (docs/benchmarks.md §1). A hint only: where huge
// pages are unavailable nothing changes, and the contents are never affected.
#pragma once

#include <cstddef>
#include <vector>

namespace lag {

// Ask for huge pages for the whole 2 MB pages inside [p, p + bytes). Effective for memory that
// has not been touched yet: the first touch then faults in a huge page.
void advise_huge_pages(const void* p, std::size_t bytes);

// v.reserve(n), the new storage advised before anything touches it (then resize or assign).
template <class T>
void reserve_huge(std::vector<T>& v, std::size_t n) {
  if (n <= v.capacity()) return;
  v.reserve(n);
  advise_huge_pages(v.data(), n * sizeof(T));
}

}  // namespace lag
