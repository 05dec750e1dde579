// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a
// counter-based generator. Block `counter` under `key` gives 4 independent 32-bit words, so
// element i of any fill depends only on (seed, offset, i), never on threads or timing.
#pragma once
#include <cmath>
#include <cstdint>

#include "engine/hostdevice.h"

namespace mfd {

struct Philox4 {
  uint32_t v[4];
};

MFD_HD Philox4 philox4x32(uint64_t counter, uint64_t key) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32);
  uint32_t c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
    uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
    uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    c1 = static_cast<uint32_t>(p1);
    c3 = static_cast<uint32_t>(p0);
    c0 = n0;
    c2 = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// A uniform double in the open interval (0, 1) from two 32-bit words (53 random bits).
MFD_HD double philox_unit(uint32_t hi, uint32_t lo) {
  uint64_t bits = (static_cast<uint64_t>(hi) << 21) ^ (lo >> 11);  // 53 bits
  return (static_cast<double>(bits & ((1ull << 53) - 1)) + 0.5) * (1.0 / 9007199254740992.0);
}

// Element i of a uniform (0, 1) stream: one Philox block per two elements.
MFD_HD double philox_uniform(uint64_t seed, uint64_t offset, uint64_t i) {
  Philox4 r = philox4x32(offset + i / 2, seed);
  return (i & 1) ? philox_unit(r.v[2], r.v[3]) : philox_unit(r.v[0], r.v[1]);
}

// Element i of a standard normal stream (Box-Muller on one block per element).
MFD_HD double philox_normal(uint64_t seed, uint64_t offset, uint64_t i) {
  Philox4 r = philox4x32(offset + i, seed ^ 0x6E6F726D616CULL);  // a key of its own ("normal")
  double u1 = philox_unit(r.v[0], r.v[1]), u2 = philox_unit(r.v[2], r.v[3]);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

// Counter blocks a fill of n elements consumes, so that the next fill starts past them.
inline uint64_t philox_blocks(uint64_t n) { return n; }

}  // namespace mfd
