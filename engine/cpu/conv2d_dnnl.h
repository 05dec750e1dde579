// conv2d on the CPU through oneDNN (the library PyTorch's CPU convolutions use), called directly
// as the CUDA backend calls cuDNN. float32 only; the im2col + OpenBLAS path in conv2d.cpp stays the
// reference, the float64 path, and the path for the shapes where it is as fast (use_dnnl_conv).
#pragma once
#include <string>

#include "engine/backend.h"

namespace mfd::cpu {

// Which CPU convolution runs float32: `automatic` picks by shape (use_dnnl_conv); the others
// force one path (tests of each path, benchmarks). The start value comes from MFD_CPU_CONV
// (auto, im2col or dnnl).
enum class CpuConv { automatic, im2col, dnnl };
CpuConv cpu_conv_choice();
void set_cpu_conv_choice(CpuConv choice);

bool dnnl_built_in();  // compiled with MFD_WITH_DNNL (make DNNL=1, the default where found)
// Whether one direction of a float32 convolution of this shape goes through oneDNN.
enum class ConvDirection { forward, data, weights };
bool use_dnnl_conv(const ConvShape& g, ConvDirection direction);

// Contracts of Backend::conv2d_forward (assigns y, adds the bias b when non-null) and
// conv2d_backward (accumulates into the non-null dx, or assigns it with assign_dx, and into dw;
// the bias gradient is conv2d.cpp's).
void dnnl_conv2d_forward(const float* x, const float* w, const float* b, float* y, const ConvShape& g);
void dnnl_conv2d_backward(const float* x, const float* w, const float* dy, float* dx, float* dw,
                          const ConvShape& g, bool assign_dx);

// "2.6.3", or "not built in".
std::string dnnl_version_string();
// Which path float32 convolutions take, in words: for mfd_info, a run's config.json, benchmarks.
std::string cpu_conv_description();

}  // namespace mfd::cpu
