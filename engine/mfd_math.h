// The MFD formulas both backends share (see losses/mfd.h for the definition).
#pragma once
#include <cmath>
#include <cstdint>

#include "engine/hostdevice.h"

namespace mfd {

// A channel is dead (correlation 0 with every channel, zero gradient) when its centred energy
// sum(y^2) is at most (1e-5)^2 of its raw energy sum(x^2): an all-zero map, or one constant over
// the batch (ReLU6 saturated at 6), whose float32 centred residue would only be rounding noise.
constexpr double kMfdDeadRelative = 1e-5;

MFD_HD double mfd_inv_norm(double centred_energy, double raw_energy) {
  const bool dead = centred_energy <= kMfdDeadRelative * kMfdDeadRelative * raw_energy;
  return dead ? 0.0 : 1.0 / std::sqrt(centred_energy);
}

// From this many positions per map, the backward product dx_k += A y_k runs per sample straight
// into dx; below it, one wide product into scratch and an add into dx's layout is faster.
constexpr int64_t kMfdPerSampleMinPositions = 256;

// Number of off-diagonal pairs, D(D-1); 1 for D = 1 (no pairs, loss 0) so nothing divides by 0.
MFD_HD double mfd_pairs(int64_t d) { return d > 1 ? static_cast<double>(d) * (d - 1) : 1.0; }

}  // namespace mfd
