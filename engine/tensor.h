// Tensor: a handle to (shape, dtype, storage) plus what autograd needs (requires_grad, grad).
// Copying a Tensor copies the handle, not the data: t2 = t aliases t. Always contiguous.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/dtype.h"
#include "engine/error.h"
#include "engine/shape.h"
#include "engine/storage.h"

namespace mfd {

struct TensorImpl;

// Where a tensor's gradient accumulates. The tensor and the backward functions that write into it
// share it, so that a backward function keeps a gradient's destination without keeping the
// tensor's data alive (engine/autograd.h: GradRef).
struct GradSlot {
  Shape shape;
  DType dtype = DType::f32;
  Device device = Device::cpu;
  std::shared_ptr<TensorImpl> grad;  // allocated on first accumulation
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  DType dtype = DType::f32;
  bool requires_grad = false;
  bool is_leaf = true;              // false for outputs of recorded ops
  std::shared_ptr<GradSlot> slot;   // made when a gradient is first asked for
};

class Tensor {
 public:
  Tensor() = default;  // undefined: defined() is false
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Factories. empty() leaves the contents undefined.
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype(), t.device()); }
  static Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }
  // Copies host values (converted to dtype) into a new tensor on `device`.
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape,
                            DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor from_labels(const std::vector<int32_t>& labels, Device device = Device::cpu);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  int ndim() const { return shape().ndim(); }
  int64_t size(int dim) const { return shape()[dim]; }
  int64_t numel() const { return shape().numel(); }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  bool is_cuda() const { return device() == Device::cuda; }
  size_t nbytes() const { return numel() * dtype_size(dtype()); }

  void* raw() const { return impl().storage->data(); }
  // Typed pointer to CPU data; fails on a dtype or device mismatch.
  template <typename T> T* data() const {
    MFD_CHECK(dtype_of<T>() == dtype(), "tensor is ", dtype_name(dtype()), ", accessed as ",
              dtype_name(dtype_of<T>()));
    MFD_CHECK(device() == Device::cpu, "data<T>() needs a CPU tensor; use to(Device::cpu) first");
    return static_cast<T*>(raw());
  }

  Tensor to(Device device) const;  // copy to another device (the same handle when already there)
  Tensor to(DType dtype) const;    // converted copy (the same handle when already that dtype)
  Tensor clone() const;            // a new storage with the same values, no autograd history
  Tensor detach() const;           // the same storage, without autograd history
  void copy_from(const Tensor& src);  // this = src, same shape, any devices, same dtype
  std::vector<double> to_vector() const;  // all values, on the host, as double
  double item() const;                    // the value of a one-element tensor

  // Autograd. A tensor created by the user with requires_grad(true) is a leaf (a parameter or an
  // input); the outputs of recorded ops are not leaves and lose their grad after backward().
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& set_requires_grad(bool on);
  bool is_leaf() const { return impl().is_leaf; }
  // Undefined before the first backward (and after drop_grad, engine/autograd.h).
  Tensor grad() const { return Tensor(impl().slot ? impl().slot->grad : nullptr); }

  TensorImpl& impl() const {
    MFD_CHECK(impl_ != nullptr, "use of an undefined tensor");
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// A tensor by name ("layer1.0.conv1.weight"), pointing at the tensor its module or optimizer owns.
using NamedTensor = std::pair<std::string, Tensor*>;

// How many times the host has read tensor values (to_vector, item) since the start.
int64_t tensor_host_reads();

// Shape checks shared by the ops: "conv2d: x must have 4 dims, got (3, 5)".
void check_ndim(const char* op, const char* name, const Tensor& t, int ndim);
void check_same_device_dtype(const char* op, const Tensor& a, const Tensor& b);

}  // namespace mfd
