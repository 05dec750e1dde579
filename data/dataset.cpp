#include "data/dataset.h"

#include <sys/stat.h>

#include <algorithm>
#include <sstream>

#include "data/augment.h"
#include "data/idx.h"
#include <cstdlib>

#include "engine/error.h"

namespace mfd {

std::string fashion_mnist_default_dir() {
  const char* dir = std::getenv("MFD_FASHION_MNIST_DIR");
  return dir && *dir ? dir : "/usr/share/datasets/fashion-mnist";
}

void ImageDataset::truncate(int64_t limit) {
  if (limit <= 0 || limit >= n) return;
  n = limit;
  pixels.resize(n * image_size());
  labels.resize(n);
}

std::vector<int64_t> ImageDataset::class_counts() const {
  std::vector<int64_t> counts(num_classes, 0);
  for (int32_t y : labels) ++counts[y];
  return counts;
}

std::string ImageDataset::summary(const std::string& split) const {
  std::vector<int64_t> counts = class_counts();
  const auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
  std::ostringstream os;
  os << name << " " << split << ": " << n << " images " << c << "x" << h << "x" << w << ", " << num_classes
     << " classes, " << (counts.empty() ? 0 : *lo) << "-" << (counts.empty() ? 0 : *hi) << " per class";
  return os.str();
}

void make_batch(const ImageDataset& ds, const std::vector<int64_t>& order, int64_t start,
                int64_t count, Device device, Tensor& images, Tensor& labels,
                const BatchAugmentation* augment) {
  const int64_t size = ds.image_size(), plane = ds.h * ds.w;
  Tensor x = Tensor::empty({count, ds.c, ds.h, ds.w});
  std::vector<int32_t> y(count);
  float* px = x.data<float>();
#pragma omp parallel for schedule(static) if (count * size > 65536)
  for (int64_t i = 0; i < count; ++i) {
    const int64_t s = order[start + i];
    const uint8_t* src = ds.pixels.data() + s * size;
    std::vector<uint8_t> augmented;
    if (augment) {
      augmented.resize(size);
      Augmentation a = augmentation_for(augment->seed, augment->epoch, s, augment->pad);
      a.flip = a.flip && augment->flip;
      augment_image(src, ds.c, ds.h, ds.w, augment->pad, a, augmented.data());
      src = augmented.data();
    }
    for (int64_t ch = 0; ch < ds.c; ++ch) {
      const float mean = ds.mean[ch], std = ds.std[ch];
      for (int64_t j = ch * plane; j < (ch + 1) * plane; ++j) px[i * size + j] = (src[j] / 255.0f - mean) / std;
    }
    y[i] = ds.labels[s];
  }
  images = x.to(device);
  labels = Tensor::from_labels(y, device);
}

ImageDataset load_fashion_mnist(const std::string& dir, bool train) {
  const std::string prefix = dir + "/" + (train ? "train" : "t10k");
  const std::string images_path = prefix + "-images-idx3-ubyte.gz";
  const std::string labels_path = prefix + "-labels-idx1-ubyte.gz";
  for (const std::string& p : {images_path, labels_path}) {
    struct stat st;
    MFD_CHECK(stat(p.c_str(), &st) == 0, "Fashion-MNIST: ", p, " not found. Expected in ", dir,
              ": train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
              "t10k-labels-idx1-ubyte.gz. Install them with `apt-get install dataset-fashion-mnist` "
              "(or scripts/install-deps.sh), which puts them in /usr/share/datasets/fashion-mnist,"
              " or point --data-dir at a folder holding them (or MFD_FASHION_MNIST_DIR at the files).");
  }
  IdxArray images = read_idx(images_path);
  IdxArray labels = read_idx(labels_path);
  MFD_CHECK(images.dims.size() == 3, images_path, ": expected 3 dimensions (N, 28, 28), got ",
            images.dims.size());
  MFD_CHECK(labels.dims.size() == 1 && labels.dims[0] == images.dims[0], labels_path, ": ",
            labels.dims.empty() ? 0 : labels.dims[0], " labels for ", images.dims[0], " images");
  ImageDataset ds;
  ds.name = "fashionmnist";
  ds.n = images.dims[0];
  ds.c = 1;
  ds.h = images.dims[1];
  ds.w = images.dims[2];
  ds.num_classes = 10;
  ds.pixels = std::move(images.data);
  ds.labels.assign(labels.data.begin(), labels.data.end());
  for (int64_t i = 0; i < ds.n; ++i)
    MFD_CHECK(ds.labels[i] < ds.num_classes, labels_path, ": label ", ds.labels[i], " of record ", i,
              " is outside [0, 10)");
  ds.mean = {0.2860f};  // the training set's pixel mean and std
  ds.std = {0.3530f};
  return ds;
}

}  // namespace mfd
