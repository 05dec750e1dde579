#include "engine/tensor.h"

#include <atomic>

#include <cstring>

#include "engine/backend.h"

namespace mfd {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
  }
  return "?";
}

const char* device_name(Device d) { return d == Device::cpu ? "cpu" : "cuda"; }

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(shape.numel() * dtype_size(dtype), device);
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  backend_for(device).fill(t, value);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}

namespace {
template <typename T> void convert_from_doubles(const std::vector<double>& v, void* dst) {
  T* out = static_cast<T*>(dst);
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<T>(v[i]);
}
template <typename T> void convert_to_doubles(const void* src, std::vector<double>& v) {
  const T* in = static_cast<const T*>(src);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(in[i]);
}
}  // namespace

Tensor Tensor::from_vector(const std::vector<double>& values, const Shape& shape, DType dtype,
                           Device device) {
  MFD_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), "from_vector: ", values.size(),
            " values for shape ", shape.str());
  Tensor host = empty(shape, dtype, Device::cpu);
  switch (dtype) {
    case DType::f32: convert_from_doubles<float>(values, host.raw()); break;
    case DType::f64: convert_from_doubles<double>(values, host.raw()); break;
    case DType::i32: convert_from_doubles<int32_t>(values, host.raw()); break;
    case DType::i64: convert_from_doubles<int64_t>(values, host.raw()); break;
  }
  return host.to(device);
}

Tensor Tensor::from_labels(const std::vector<int32_t>& labels, Device device) {
  Tensor host = empty(Shape{static_cast<int64_t>(labels.size())}, DType::i32, Device::cpu);
  if (!labels.empty()) std::memcpy(host.raw(), labels.data(), labels.size() * sizeof(int32_t));
  return host.to(device);
}

Tensor Tensor::to(Device device) const {
  if (device == this->device()) return *this;
  Tensor out = empty(shape(), dtype(), device);
  out.copy_from(*this);
  return out;
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == this->dtype()) return *this;
  Tensor out = empty(shape(), dtype, device());
  backend_for(device()).cast(*this, out);
  return out;
}

Tensor Tensor::clone() const {
  Tensor out = empty_like(*this);
  out.copy_from(*this);
  return out;
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = this->impl().storage;
  impl->shape = shape();
  impl->dtype = dtype();
  return Tensor(std::move(impl));
}

void Tensor::copy_from(const Tensor& src) {
  MFD_CHECK(src.shape() == shape() && src.dtype() == dtype(), "copy_from: ", src.shape().str(), " ",
            dtype_name(src.dtype()), " into ", shape().str(), " ", dtype_name(dtype()));
  if (nbytes() == 0) return;
  if (src.device() == device()) {
    backend_for(device()).copy(raw(), src.raw(), nbytes());
  } else if (src.device() == Device::cpu) {
    backend_for(device()).copy_from_host(raw(), src.raw(), nbytes());
  } else {
    backend_for(src.device()).copy_to_host(raw(), src.raw(), nbytes());  // this is on the CPU
  }
}

namespace {
std::atomic<int64_t> g_host_reads{0};
}  // namespace

int64_t tensor_host_reads() { return g_host_reads; }

std::vector<double> Tensor::to_vector() const {
  ++g_host_reads;
  Tensor host = to(Device::cpu);
  std::vector<double> v(numel());
  switch (dtype()) {
    case DType::f32: convert_to_doubles<float>(host.raw(), v); break;
    case DType::f64: convert_to_doubles<double>(host.raw(), v); break;
    case DType::i32: convert_to_doubles<int32_t>(host.raw(), v); break;
    case DType::i64: convert_to_doubles<int64_t>(host.raw(), v); break;
  }
  return v;
}

double Tensor::item() const {
  MFD_CHECK(numel() == 1, "item() needs a one-element tensor, got shape ", shape().str());
  return to_vector()[0];
}

Tensor& Tensor::set_requires_grad(bool on) {
  MFD_CHECK(!on || is_floating(dtype()), "only floating tensors can require gradients");
  impl().requires_grad = on;
  return *this;
}

void check_ndim(const char* op, const char* name, const Tensor& t, int ndim) {
  MFD_CHECK(t.ndim() == ndim, op, ": ", name, " must have ", ndim, " dimensions, got shape ",
            t.shape().str());
}

void check_same_device_dtype(const char* op, const Tensor& a, const Tensor& b) {
  MFD_CHECK(a.device() == b.device(), op, ": tensors on different devices (", device_name(a.device()),
            ", ", device_name(b.device()), ")");
  MFD_CHECK(a.dtype() == b.dtype(), op, ": tensors of different dtypes (", dtype_name(a.dtype()),
            ", ", dtype_name(b.dtype()), ")");
}

}  // namespace mfd
