// Generator: the seeded state a run carries (seed, offset). Each draw takes a fresh range of
// counters, so saving (seed, offset) in a checkpoint resumes the same streams.
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace mfd {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0, uint64_t offset = 0) : seed_(seed), offset_(offset) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  // Reserves counters for n elements and returns the offset the draw starts at.
  uint64_t reserve(uint64_t n);

  // Fills t in place (any device).
  void uniform_(Tensor& t, double lo, double hi);
  void normal_(Tensor& t, double mean, double std);
  // A scaled keep-mask: 1/(1-p) with probability 1-p, else 0. A data-parallel shard draws its
  // part of the global batch's mask: elements [first, first + mask.numel()) of a draw of `whole`
  // elements (0: the mask is the whole draw), so every process's stream stays the one process's.
  void dropout_mask_(Tensor& mask, double p, uint64_t first = 0, uint64_t whole = 0);

 private:
  uint64_t seed_;
  uint64_t offset_;
};

// torchvision's initialisers. fan_in = size(1) * receptive field, fan_out = size(0) * receptive field.
void kaiming_normal_fan_out(Tensor& w, Generator& g);  // std = sqrt(2 / fan_out) (relu gain)
void kaiming_normal_fan_in(Tensor& w, Generator& g);   // std = sqrt(2 / fan_in)
// PyTorch's default for Linear and Conv2d: weight U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (which is
// kaiming_uniform with a = sqrt(5)), and the bias with the same bound.
void default_uniform(Tensor& w, Tensor& b, Generator& g);
int64_t fan_in(const Tensor& w);
int64_t fan_out(const Tensor& w);

}  // namespace mfd
