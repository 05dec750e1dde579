// conv2d through oneDNN. Per shape, the three primitives (forward, backward data, backward weights)
// are made once and cached: making one compiles its kernel. Each primitive picks its own layouts
// (format `any`, usually channel-blocked such as nChw16c); our plain NCHW/OIHW arrays are reordered
// into them and the results back, through buffers of the block cache. The gradients accumulate
// (Backend's contract) through a reorder with a sum post-op. Scratchpads are ours too, so that
// the memory benchmark sees everything.
#include "engine/cpu/conv2d_dnnl.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>

#include "engine/cpu/kernels.h"
#include "engine/cpu_runtime.h"
#include "engine/error.h"

#ifdef MFD_WITH_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace mfd::cpu {

namespace {

CpuConv choice_from_environment() {
  const char* v = std::getenv("MFD_CPU_CONV");
  if (!v || !*v || std::strcmp(v, "auto") == 0) return CpuConv::automatic;
  if (std::strcmp(v, "im2col") == 0) return CpuConv::im2col;
  if (std::strcmp(v, "dnnl") == 0) return CpuConv::dnnl;
  throw Error(std::string("MFD_CPU_CONV=") + v + " is not one of: auto, im2col, dnnl");
}

CpuConv& choice() {
  static CpuConv c = choice_from_environment();
  return c;
}

}  // namespace

CpuConv cpu_conv_choice() { return choice(); }
void set_cpu_conv_choice(CpuConv c) { choice() = c; }

std::string cpu_conv_description() {
  if (!dnnl_built_in()) return "im2col + OpenBLAS (built without oneDNN)";
  switch (choice()) {
    case CpuConv::im2col: return "im2col + OpenBLAS (MFD_CPU_CONV=im2col)";
    case CpuConv::dnnl: return "oneDNN " + dnnl_version_string() + " (MFD_CPU_CONV=dnnl)";
    case CpuConv::automatic: break;
  }
  return "oneDNN " + dnnl_version_string() + " and OpenBLAS by shape, " +
         (cpu_has_avx512() ? "AVX-512 rules (most in oneDNN)" : "AVX2 rules (windowed in oneDNN, 1x1 in OpenBLAS)");
}

#ifndef MFD_WITH_DNNL

bool dnnl_built_in() { return false; }
bool use_dnnl_conv(const ConvShape&, ConvDirection) { return false; }
void dnnl_conv2d_forward(const float*, const float*, const float*, float*, const ConvShape&) {
  throw Error("conv2d: this build has no oneDNN (make DNNL=1 with libdnnl-dev installed)");
}
void dnnl_conv2d_backward(const float*, const float*, const float*, float*, float*, const ConvShape&, bool) {
  throw Error("conv2d: this build has no oneDNN (make DNNL=1 with libdnnl-dev installed)");
}
std::string dnnl_version_string() { return "not built in"; }

#else

bool dnnl_built_in() { return true; }

std::string dnnl_version_string() {
  const dnnl_version_t* v = dnnl_version();
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

bool use_dnnl_conv(const ConvShape& g, ConvDirection direction) {
  switch (choice()) {
    case CpuConv::im2col: return false;
    case CpuConv::dnnl: return true;
    case CpuConv::automatic: break;
  }
  // Measured per direction on two kinds of CPU (docs/benchmarks.md, "oneDNN convolution"); the
  // choice depends on the CPU's features only, so that a run repeats bit for bit on its kind of CPU.
  // A depthwise convolution is 4-18x faster in oneDNN in every direction on both (im2col makes one
  // tiny GEMM per channel).
  const int64_t groups = g.params.groups, per_group = g.c / groups;
  if (groups == g.c && g.k == g.c) return true;  // depthwise
  const bool windowed = g.r * g.s > 1, columns_of_batch16 = g.n * g.h * g.w <= 16384;
  static const bool avx512 = cpu_has_avx512();
  if (avx512) {
    // With AVX-512 (a Zen 4 EPYC measured), oneDNN's blocked kernels win almost everywhere: every
    // forward (1.1-4x), the input gradients (but 1x1 ones of wide batches, where one GEMM on x as
    // it lies is faster), and the weight gradients but those of few channels per group (ResNeXt's
    // 4: 3x slower), of 512 or more output channels, and 1x1 ones of 1024 or more inputs or of
    // wide batches.
    switch (direction) {
      case ConvDirection::forward: return true;
      case ConvDirection::data: return windowed ? per_group >= 4 : columns_of_batch16;
      case ConvDirection::weights:
        return windowed ? per_group >= 8 && g.k < 512 : g.c < 1024 && columns_of_batch16;
    }
    return false;
  }
  // With AVX2 (a Zen 3 EPYC measured): a 1x1 convolution is one GEMM on x as it lies, where
  // OpenBLAS is as fast and no reorder is paid. Otherwise oneDNN wins the forward of a wide output
  // (N P Q >= 4096 columns) or of few output channels (K <= 64, a thin GEMM for OpenBLAS), the
  // input gradient from 16 input channels per group, and the weight gradient of few output
  // channels; grouped (ResNeXt) forwards and weight gradients stay on im2col.
  if (!windowed) return false;
  const bool few_outputs = groups == 1 && g.k <= 64;
  switch (direction) {
    case ConvDirection::forward: return groups == 1 && (few_outputs || g.n * g.p * g.q >= 4096);
    case ConvDirection::data: return per_group >= 16;
    case ConvDirection::weights: return few_outputs;
  }
  return false;
}

namespace {

using dnnl::memory;
using tag = memory::format_tag;
constexpr memory::data_type f32 = memory::data_type::f32;

dnnl::engine& cpu_engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

struct Layouts {  // the plain layouts of our arrays
  memory::desc x, w, b, y;
};

Layouts plain_layouts(const ConvShape& g) {
  const int64_t groups = g.params.groups;
  Layouts l;
  l.x = memory::desc({g.n, g.c, g.h, g.w}, f32, tag::nchw);
  l.y = memory::desc({g.n, g.k, g.p, g.q}, f32, tag::nchw);
  l.b = memory::desc({g.k}, f32, tag::x);
  l.w = groups == 1 ? memory::desc({g.k, g.c, g.r, g.s}, f32, tag::oihw)
                    : memory::desc({groups, g.k / groups, g.c / groups, g.r, g.s}, f32, tag::goihw);
  return l;
}

memory::desc any_like(const memory::desc& d) { return memory::desc(d.dims(), f32, tag::any); }

// The three primitives of one shape. The backward ones are made at their first use (evaluation
// never needs them).
struct ConvPrimitives {
  Layouts plain;
  memory::dims strides, pad_l, pad_r;
  dnnl::convolution_forward::primitive_desc fwd_pd;
  dnnl::convolution_forward fwd;
  dnnl::convolution_backward_data::primitive_desc bwd_data_pd;
  dnnl::convolution_backward_data bwd_data;
  dnnl::convolution_backward_weights::primitive_desc bwd_weights_pd;
  dnnl::convolution_backward_weights bwd_weights;
};

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

ConvPrimitives& primitives_for(const ConvShape& g, bool bias) {
  using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int, int, int,
                         int, int, bool>;
  static std::map<Key, std::unique_ptr<ConvPrimitives>> cache;
  static std::mutex mutex;
  const Conv2dParams& p = g.params;
  const Key key{g.n, g.c, g.h, g.w, g.k, g.r, g.s, p.stride_h, p.stride_w, p.pad_h, p.pad_w, p.groups, bias};
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<ConvPrimitives>& slot = cache[key];
  if (slot) return *slot;
  auto c = std::make_unique<ConvPrimitives>();
  c->plain = plain_layouts(g);
  c->strides = {p.stride_h, p.stride_w};
  c->pad_l = {p.pad_h, p.pad_w};
  // The bottom/right padding that makes oneDNN's output size ours (floor mode drops the rest).
  c->pad_r = {(g.p - 1) * p.stride_h + g.r - g.h - p.pad_h, (g.q - 1) * p.stride_w + g.s - g.w - p.pad_w};
  const memory::desc no_bias;
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                    any_like(c->plain.x), any_like(c->plain.w),
                                    bias ? c->plain.b : no_bias, any_like(c->plain.y), c->strides,
                                    c->pad_l, c->pad_r);
  c->fwd_pd = dnnl::convolution_forward::primitive_desc(d, user_scratchpad(), cpu_engine());
  c->fwd = dnnl::convolution_forward(c->fwd_pd);
  slot = std::move(c);
  return *slot;
}

void make_backward(ConvPrimitives& c) {
  if (c.bwd_data_pd) return;
  const dnnl::algorithm direct = dnnl::algorithm::convolution_direct;
  dnnl::convolution_backward_data::desc dd(direct, any_like(c.plain.x), any_like(c.plain.w),
                                           any_like(c.plain.y), c.strides, c.pad_l, c.pad_r);
  c.bwd_data_pd = dnnl::convolution_backward_data::primitive_desc(dd, user_scratchpad(), cpu_engine(), c.fwd_pd);
  c.bwd_data = dnnl::convolution_backward_data(c.bwd_data_pd);
  dnnl::convolution_backward_weights::desc wd(direct, any_like(c.plain.x), any_like(c.plain.w),
                                              any_like(c.plain.y), c.strides, c.pad_l, c.pad_r);
  c.bwd_weights_pd =
      dnnl::convolution_backward_weights::primitive_desc(wd, user_scratchpad(), cpu_engine(), c.fwd_pd);
  c.bwd_weights = dnnl::convolution_backward_weights(c.bwd_weights_pd);
}

// A memory of layout `want` for primitive use, and the block-cache buffer behind it when it is
// not the user's array itself.
struct Operand {
  memory mem;
  Tensor buffer;
};

Operand operand(const memory::desc& want, const memory::desc& plain, float* data) {
  if (want == plain) return {memory(plain, cpu_engine(), data), Tensor()};
  Operand o;
  o.buffer = scratch<float>(static_cast<int64_t>(want.get_size() / sizeof(float)) + 1);
  o.mem = memory(want, cpu_engine(), o.buffer.data<float>());
  return o;
}

// An input in the primitive's layout: the user's array, or a reordered copy of it.
Operand input(const memory::desc& want, const memory::desc& plain, const float* data, dnnl::stream& s) {
  Operand o = operand(want, plain, const_cast<float*>(data));
  if (o.buffer.defined()) {
    memory user(plain, cpu_engine(), const_cast<float*>(data));
    dnnl::reorder(user, o.mem).execute(s, user, o.mem);
  }
  return o;
}

// An output written in the primitive's layout, copied into the user's array when it is a buffer.
void output(const Operand& o, const memory::desc& plain, float* data, dnnl::stream& s) {
  if (!o.buffer.defined()) return;
  memory user(plain, cpu_engine(), data);
  dnnl::reorder(o.mem, user).execute(s, const_cast<memory&>(o.mem), user);
}

// dst (plain) += src (any layout).
void accumulate(const memory& src, const memory::desc& plain, float* dst, dnnl::stream& s) {
  dnnl::post_ops sum;
  sum.append_sum(1.0f);
  dnnl::primitive_attr attr;
  attr.set_post_ops(sum);
  memory user(plain, cpu_engine(), dst);
  dnnl::reorder::primitive_desc pd(cpu_engine(), src.get_desc(), cpu_engine(), plain, attr);
  dnnl::reorder(pd).execute(s, const_cast<memory&>(src), user);
}

memory scratchpad(const dnnl::primitive_desc_base& pd, Tensor& buffer) {
  const memory::desc d = pd.scratchpad_desc();
  buffer = scratch<float>(static_cast<int64_t>(d.get_size() / sizeof(float)) + 1);
  return memory(d, cpu_engine(), buffer.data<float>());
}

}  // namespace

void dnnl_conv2d_forward(const float* x, const float* w, const float* b, float* y, const ConvShape& g) {
  ConvPrimitives& c = primitives_for(g, b != nullptr);
  dnnl::stream s(cpu_engine());
  Operand xm = input(c.fwd_pd.src_desc(), c.plain.x, x, s);
  Operand wm = input(c.fwd_pd.weights_desc(), c.plain.w, w, s);
  Operand ym = operand(c.fwd_pd.dst_desc(), c.plain.y, y);
  Tensor pad_buffer;
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, xm.mem}, {DNNL_ARG_WEIGHTS, wm.mem},
                                       {DNNL_ARG_DST, ym.mem},
                                       {DNNL_ARG_SCRATCHPAD, scratchpad(c.fwd_pd, pad_buffer)}};
  if (b) args[DNNL_ARG_BIAS] = memory(c.plain.b, cpu_engine(), const_cast<float*>(b));
  c.fwd.execute(s, args);
  output(ym, c.plain.y, y, s);
  s.wait();
}

void dnnl_conv2d_backward(const float* x, const float* w, const float* dy, float* dx, float* dw,
                          const ConvShape& g, bool assign_dx) {
  if (!dx && !dw) return;
  ConvPrimitives& c = primitives_for(g, false);
  make_backward(c);
  dnnl::stream s(cpu_engine());
  // dy in the layout each direction wants: reordered once when both want the same one.
  Operand dy_data, dy_weights;
  if (dx) dy_data = input(c.bwd_data_pd.diff_dst_desc(), c.plain.y, dy, s);
  if (dw) {
    if (dx && c.bwd_weights_pd.diff_dst_desc() == c.bwd_data_pd.diff_dst_desc())
      dy_weights = dy_data;
    else
      dy_weights = input(c.bwd_weights_pd.diff_dst_desc(), c.plain.y, dy, s);
  }
  if (dx) {
    const Operand& dym = dy_data;
    Operand wm = input(c.bwd_data_pd.weights_desc(), c.plain.w, w, s);
    // Assigned: straight into dx when the primitive writes our layout; accumulated: never (the
    // sum is a reorder with a sum post-op).
    Operand dxm = operand(c.bwd_data_pd.diff_src_desc(), assign_dx ? c.plain.x : memory::desc(), dx);
    Tensor pad_buffer;
    c.bwd_data.execute(s, {{DNNL_ARG_DIFF_DST, dym.mem}, {DNNL_ARG_WEIGHTS, wm.mem},
                           {DNNL_ARG_DIFF_SRC, dxm.mem},
                           {DNNL_ARG_SCRATCHPAD, scratchpad(c.bwd_data_pd, pad_buffer)}});
    if (assign_dx) {
      output(dxm, c.plain.x, dx, s);
    } else {
      accumulate(dxm.mem, c.plain.x, dx, s);
    }
  }
  if (dw) {
    const Operand& dym = dy_weights;
    Operand xm = input(c.bwd_weights_pd.src_desc(), c.plain.x, x, s);
    Operand dwm = operand(c.bwd_weights_pd.diff_weights_desc(), memory::desc(), nullptr);
    Tensor pad_buffer;
    c.bwd_weights.execute(s, {{DNNL_ARG_SRC, xm.mem}, {DNNL_ARG_DIFF_DST, dym.mem},
                              {DNNL_ARG_DIFF_WEIGHTS, dwm.mem},
                              {DNNL_ARG_SCRATCHPAD, scratchpad(c.bwd_weights_pd, pad_buffer)}});
    accumulate(dwm.mem, c.plain.w, dw, s);
  }
  s.wait();
}

#endif

}  // namespace mfd::cpu
