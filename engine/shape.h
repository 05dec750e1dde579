// Shape: up to 4 dimensions, row-major (NCHW for images). A 0-dim shape is a scalar.
#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace mfd {

class Shape {
 public:
  static constexpr int kMaxDims = 4;
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  template <typename It> Shape(It begin, It end) {
    for (It it = begin; it != end; ++it) push_back(*it);
  }

  int ndim() const { return ndim_; }
  int64_t operator[](int i) const { return dims_[index(i)]; }
  int64_t& operator[](int i) { return dims_[index(i)]; }
  int64_t numel() const;
  void push_back(int64_t d);
  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const;  // "(2, 3, 7, 5)"

 private:
  int index(int i) const;  // accepts negative indices as Python does; checks bounds
  int ndim_ = 0;
  std::array<int64_t, kMaxDims> dims_{};
};

}  // namespace mfd
