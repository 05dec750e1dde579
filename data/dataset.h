// An in-memory image classification data set: uint8 pixels (N, C, H, W) and i32 labels, plus
// the per-channel mean and std (in [0, 1] units) that batches are normalised with.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace mfd {

struct ImageDataset {
  std::string name;
  int64_t n = 0, c = 0, h = 0, w = 0;
  int num_classes = 0;
  std::vector<uint8_t> pixels;  // n * c * h * w
  std::vector<int32_t> labels;  // n
  std::vector<float> mean, std;  // c each

  int64_t image_size() const { return c * h * w; }
  // Keeps the first `limit` samples (all when limit <= 0 or larger than n).
  void truncate(int64_t limit);
  // Samples per class, for the counts printed at load.
  std::vector<int64_t> class_counts() const;
  // One line for the log: "cifar10 train: 50000 images 3x32x32, 10 classes, 5000-5000 per class".
  std::string summary(const std::string& split) const;
};

// The data sets by name: cifar10, cifar100, tinyimagenet, facescrub, fashionmnist (an unknown
// name lists them). data_dir holds each in its download layout (README); Fashion-MNIST is read
// from data_dir/fashion-mnist when present, else from Debian's install path.
ImageDataset load_dataset(const std::string& name, const std::string& data_dir, bool train);
std::vector<std::string> dataset_names();

// Training augmentation for make_batch (data/augment.h): pad, random crop and flip, drawn from
// (seed, epoch, sample index).
struct BatchAugmentation {
  uint64_t seed = 0;
  int epoch = 0;
  int pad = 4;
  bool flip = true;
};

// Normalised float32 images and labels of samples order[start, start + count), augmented when
// `augment` is given (training) and as stored otherwise (test).
void make_batch(const ImageDataset& ds, const std::vector<int64_t>& order, int64_t start,
                int64_t count, Device device, Tensor& images, Tensor& labels,
                const BatchAugmentation* augment = nullptr);

// Fashion-MNIST from `dir` (train-images-idx3-ubyte.gz, ...): 28x28 grey, 10 classes; 60,000
// training and 10,000 test images. A missing file names the layout and the install command.
ImageDataset load_fashion_mnist(const std::string& dir, bool train);
// Where Fashion-MNIST is found when DATA_DIR/fashion-mnist is not there: MFD_FASHION_MNIST_DIR if
// set, else where Debian's dataset-fashion-mnist puts it (/usr/share/datasets/fashion-mnist).
std::string fashion_mnist_default_dir();

}  // namespace mfd
