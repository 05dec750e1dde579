// Deterministic parallel loops: a fixed partition of the index range into blocks, independent of
// the number of threads, so that reductions add the same numbers in the same order every run.
#pragma once
#include <cstdint>
#include <vector>

namespace mfd::cpu {

constexpr int64_t kReduceBlocks = 64;

// Sum over i in [0, n) of term(i), in double, partitioned into kReduceBlocks fixed blocks.
template <typename F> double deterministic_sum(int64_t n, F term) {
  double partial[kReduceBlocks] = {};
  int64_t block = (n + kReduceBlocks - 1) / kReduceBlocks;
#pragma omp parallel for schedule(static) if (n > 32768)
  for (int64_t b = 0; b < kReduceBlocks; ++b) {
    double s = 0.0;
    int64_t end = (b + 1) * block < n ? (b + 1) * block : n;
    for (int64_t i = b * block; i < end; ++i) s += term(i);
    partial[b] = s;
  }
  double total = 0.0;
  for (int64_t b = 0; b < kReduceBlocks; ++b) total += partial[b];
  return total;
}

}  // namespace mfd::cpu
