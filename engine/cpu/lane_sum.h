// A double-precision sum that the compiler can vectorise: kLanes independent partial sums, element
// j of a run going to lane j % kLanes, added together in a fixed order at the end. A single
// `s += v` chain waits for each addition (about 4 cycles each); eight chains fill a vector
// register. The numbers and their order depend only on the data's layout, never on threads, so a
// result repeats bit for bit.
#pragma once
#include <cstdint>

namespace mfd::cpu {

constexpr int kLanes = 8;

struct LaneSum {
  double lane[kLanes] = {};
  double total() const {
    double s = 0.0;
    for (int l = 0; l < kLanes; ++l) s += lane[l];
    return s;
  }
};

// Calls body(j, l) for j in [0, m), l being j's lane, in an order the compiler vectorises over l.
template <typename F> inline void for_lanes(int64_t m, F body) {
  int64_t j = 0;
  for (; j + kLanes <= m; j += kLanes)
    for (int l = 0; l < kLanes; ++l) body(j + l, l);
  for (int l = 0; j < m; ++j, ++l) body(j, l);
}

}  // namespace mfd::cpu
