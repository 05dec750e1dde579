// Element types and devices: the two tags every tensor carries.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace mfd {

// f32 trains; f64 runs every CPU op so that gradient checks are exact; i32 holds labels;
// i64 holds counters that checkpoints must store as torch does (num_batches_tracked).
enum class DType { f32, f64, i32, i64 };
enum class Device { cpu, cuda };

inline size_t dtype_size(DType t) { return (t == DType::f32 || t == DType::i32) ? 4 : 8; }
inline bool is_floating(DType t) { return t == DType::f32 || t == DType::f64; }
const char* dtype_name(DType t);   // "f32", ...
const char* device_name(Device d); // "cpu", "cuda"

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }

}  // namespace mfd
