#include "engine/shape.h"

#include "engine/error.h"

namespace mfd {

Shape::Shape(std::initializer_list<int64_t> dims) {
  for (int64_t d : dims) push_back(d);
}

int Shape::index(int i) const {
  int j = i < 0 ? i + ndim_ : i;
  MFD_CHECK(j >= 0 && j < ndim_, "shape index ", i, " out of range for ", str());
  return j;
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim_; ++i) n *= dims_[i];
  return n;
}

void Shape::push_back(int64_t d) {
  MFD_CHECK(ndim_ < kMaxDims, "tensors have at most ", kMaxDims, " dimensions");
  MFD_CHECK(d >= 0, "negative dimension ", d);
  dims_[ndim_++] = d;
}

bool Shape::operator==(const Shape& o) const {
  if (ndim_ != o.ndim_) return false;
  for (int i = 0; i < ndim_; ++i)
    if (dims_[i] != o.dims_[i]) return false;
  return true;
}

std::string Shape::str() const {
  std::string s = "(";
  for (int i = 0; i < ndim_; ++i) s += (i ? ", " : "") + std::to_string(dims_[i]);
  return s + ")";
}

}  // namespace mfd
