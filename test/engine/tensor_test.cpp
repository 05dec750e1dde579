// Tensor basics: factories, conversions, aliasing, alignment, device errors.
#include <gtest/gtest.h>

#include <cstdint>

#include "engine/ops.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

TEST(TensorTest, FromVectorRoundTripsEveryDtype) {
  std::vector<double> v = {1, -2, 3, 40000, -5, 6};
  for (DType t : {DType::f32, DType::f64, DType::i32, DType::i64}) {
    Tensor x = Tensor::from_vector(v, {2, 3}, t);
    EXPECT_EQ(x.to_vector(), v) << dtype_name(t);
    EXPECT_EQ(x.nbytes(), 6 * dtype_size(t));
  }
  EXPECT_NE(error_message([&] { Tensor::from_vector(v, {4, 2}); }).find("6 values for shape (4, 2)"),
            std::string::npos);
}

TEST(TensorTest, CpuMemoryIs64ByteAligned) {
  for (int64_t n : {1, 3, 17, 1000}) {
    Tensor t = Tensor::empty({n}, DType::f32);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u);
  }
}

TEST(TensorTest, CopiesAliasAndCloneDoesNot) {
  Tensor a = Tensor::zeros({4});
  Tensor alias = a;
  Tensor copy = a.clone();
  a.data<float>()[0] = 5.0f;
  EXPECT_EQ(alias.data<float>()[0], 5.0f);
  EXPECT_EQ(copy.data<float>()[0], 0.0f);
}

TEST(TensorTest, CastAndItem) {
  Tensor a = Tensor::from_vector({1.5, -2.25}, {2}, DType::f64);
  Tensor b = a.to(DType::f32);
  EXPECT_EQ(b.dtype(), DType::f32);
  EXPECT_EQ(b.to_vector(), (std::vector<double>{1.5, -2.25}));
  EXPECT_TRUE(a.to(DType::f64).same(a));
  EXPECT_EQ(Tensor::full(Shape{}, 3.0).item(), 3.0);
  EXPECT_NE(error_message([&] { a.item(); }).find("one-element"), std::string::npos);
}

TEST(TensorTest, TypedAccessChecksTheDtype) {
  Tensor a = Tensor::zeros({2}, DType::f64);
  EXPECT_NE(error_message([&] { a.data<float>(); }).find("tensor is f64, accessed as f32"), std::string::npos);
}

TEST(TensorTest, ShapeRules) {
  EXPECT_EQ(Shape({2, 3, 4}).numel(), 24);
  EXPECT_EQ(Shape{}.numel(), 1);
  EXPECT_EQ(Shape({2, 3, 4})[-1], 4);
  EXPECT_NE(error_message([] { Shape({1, 2, 3, 4, 5}); }).find("at most 4"), std::string::npos);
  EXPECT_NE(error_message([] { Shape({2, 3})[2]; }).find("out of range"), std::string::npos);
}

TEST(TensorTest, CudaTensorsNeedTheCudaBackend) {
  std::string why;
  if (cuda_available(&why)) GTEST_SKIP() << "a CUDA device answers; this checks the message without one";
  std::string msg = error_message([] { Tensor::zeros({2}, DType::f32, Device::cuda); });
  EXPECT_NE(msg.find("--device cpu"), std::string::npos) << msg;
}

}  // namespace
}  // namespace mfd::test
