#include "engine/rng.h"

#include <cmath>

#include "engine/backend.h"
#include "engine/philox.h"

namespace mfd {

uint64_t Generator::reserve(uint64_t n) {
  uint64_t start = offset_;
  offset_ += philox_blocks(n);
  return start;
}

void Generator::uniform_(Tensor& t, double lo, double hi) {
  uint64_t start = reserve(t.numel());
  backend_for(t).fill_uniform(t, lo, hi, seed_, start);
}

void Generator::normal_(Tensor& t, double mean, double std) {
  uint64_t start = reserve(t.numel());
  backend_for(t).fill_normal(t, mean, std, seed_, start);
}

void Generator::dropout_mask_(Tensor& mask, double p, uint64_t first, uint64_t whole) {
  MFD_CHECK(whole == 0 || first + mask.numel() <= whole, "dropout_mask_: elements [", first, ", ",
            first + mask.numel(), ") of a draw of ", whole);
  uint64_t start = reserve(whole ? whole : mask.numel());
  backend_for(mask).dropout_mask(mask, p, seed_, start, first);
}

static int64_t receptive_field(const Tensor& w) {
  int64_t r = 1;
  for (int i = 2; i < w.ndim(); ++i) r *= w.size(i);
  return r;
}

int64_t fan_in(const Tensor& w) {
  MFD_CHECK(w.ndim() >= 2, "fan_in needs a weight with at least 2 dims, got ", w.shape().str());
  return w.size(1) * receptive_field(w);
}

int64_t fan_out(const Tensor& w) {
  MFD_CHECK(w.ndim() >= 2, "fan_out needs a weight with at least 2 dims, got ", w.shape().str());
  return w.size(0) * receptive_field(w);
}

void kaiming_normal_fan_out(Tensor& w, Generator& g) {
  g.normal_(w, 0.0, std::sqrt(2.0 / static_cast<double>(fan_out(w))));
}

void kaiming_normal_fan_in(Tensor& w, Generator& g) {
  g.normal_(w, 0.0, std::sqrt(2.0 / static_cast<double>(fan_in(w))));
}

void default_uniform(Tensor& w, Tensor& b, Generator& g) {
  double bound = 1.0 / std::sqrt(static_cast<double>(fan_in(w)));
  g.uniform_(w, -bound, bound);
  if (b.defined()) g.uniform_(b, -bound, bound);
}

}  // namespace mfd
