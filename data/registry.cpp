#include <sys/stat.h>

#include "data/cifar.h"
#include "data/dataset.h"
#include "data/facescrub.h"
#include "data/tiny_imagenet.h"
#include "engine/error.h"

namespace mfd {

std::vector<std::string> dataset_names() { return {"cifar10", "cifar100", "tinyimagenet", "facescrub", "fashionmnist"}; }

ImageDataset load_dataset(const std::string& name, const std::string& data_dir, bool train) {
  if (name == "cifar10") return load_cifar10(data_dir, train);
  if (name == "cifar100") return load_cifar100(data_dir, train);
  if (name == "tinyimagenet") return load_tiny_imagenet(data_dir, train);
  if (name == "facescrub") {
    FaceScrubData d = load_facescrub(data_dir);
    return train ? std::move(d.train) : std::move(d.test);
  }
  if (name == "fashionmnist") {
    struct stat st;
    const std::string local = data_dir + "/fashion-mnist";
    return load_fashion_mnist(stat(local.c_str(), &st) == 0 ? local : fashion_mnist_default_dir(), train);
  }
  std::string valid;
  for (const std::string& n : dataset_names()) valid += (valid.empty() ? "" : ", ") + n;
  fail("unknown data set '", name, "' (valid: ", valid, ")");
}

}  // namespace mfd
