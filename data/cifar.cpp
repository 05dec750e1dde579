#include "data/cifar.h"

#include <sys/stat.h>

#include <cstring>
#include <fstream>

#include "engine/error.h"

namespace mfd {

namespace {

constexpr int64_t kPixels = 3 * 32 * 32;

struct CifarLayout {
  const char* name;        // "CIFAR-10"
  const char* folder;      // "cifar-10-batches-bin"
  const char* files_hint;  // the expected files, for messages
  const char* command;     // the download command
  int label_bytes;         // 1 (CIFAR-10) or 2 (coarse + fine)
  int classes;
};

const CifarLayout kCifar10 = {"CIFAR-10", "cifar-10-batches-bin", "data_batch_1.bin .. data_batch_5.bin and test_batch.bin",
                              "scripts/get-data.sh cifar10", 1, 10};
const CifarLayout kCifar100 = {"CIFAR-100", "cifar-100-binary", "train.bin and test.bin",
                               "scripts/get-data.sh cifar100", 2, 100};

bool exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// Appends every record of one file to ds; the label is the last label byte (CIFAR-100's fine one).
void read_records(const std::string& path, const CifarLayout& layout, ImageDataset& ds) {
  const int64_t record = layout.label_bytes + kPixels;
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  MFD_CHECK(f, layout.name, ": ", path, " not found. Expected ", layout.files_hint, " in that folder (the binary "
            "version); download with ", layout.command);
  const int64_t size = static_cast<int64_t>(f.tellg());
  MFD_CHECK(size > 0 && size % record == 0, layout.name, ": ", path, " is truncated or not a CIFAR binary file: ", size,
            " bytes, expected a multiple of ", record, " (", layout.label_bytes, " label byte",
            layout.label_bytes > 1 ? "s" : "", " + ", kPixels, " pixel bytes per record)");
  f.seekg(0);
  std::vector<uint8_t> bytes(size);
  f.read(reinterpret_cast<char*>(bytes.data()), size);
  const int64_t count = size / record, first = ds.n;
  ds.pixels.resize((first + count) * kPixels);
  ds.labels.resize(first + count);
  for (int64_t i = 0; i < count; ++i) {
    const uint8_t* r = bytes.data() + i * record;
    const int label = r[layout.label_bytes - 1];
    MFD_CHECK(label < layout.classes, layout.name, ": ", path, ": record ", i, " has label ", label,
              ", outside [0, ", layout.classes, ")");
    ds.labels[first + i] = label;
    std::memcpy(ds.pixels.data() + (first + i) * kPixels, r + layout.label_bytes, kPixels);
  }
  ds.n += count;
}

ImageDataset load(const std::string& data_dir, const CifarLayout& layout,
                  const std::vector<std::string>& files) {
  const std::string folder = data_dir + "/" + layout.folder;
  MFD_CHECK(exists(folder), layout.name, ": ", folder, " not found. Expected the binary version unpacked there: ",
            layout.folder, "/ holding ", layout.files_hint, ". Download with ", layout.command,
            " (or point --data-dir at the folder that holds ", layout.folder, "/).");
  ImageDataset ds;
  ds.name = layout.classes == 10 ? "cifar10" : "cifar100";
  ds.c = 3;
  ds.h = ds.w = 32;
  ds.num_classes = layout.classes;
  for (const std::string& f : files) read_records(folder + "/" + f, layout, ds);
  return ds;
}

}  // namespace

ImageDataset load_cifar10(const std::string& data_dir, bool train) {
  std::vector<std::string> files;
  if (train) {
    for (int i = 1; i <= 5; ++i) files.push_back("data_batch_" + std::to_string(i) + ".bin");
  } else {
    files.push_back("test_batch.bin");
  }
  ImageDataset ds = load(data_dir, kCifar10, files);
  ds.mean = {0.4914f, 0.4822f, 0.4465f};  // torchvision's usual constants
  ds.std = {0.2470f, 0.2435f, 0.2616f};
  return ds;
}

ImageDataset load_cifar100(const std::string& data_dir, bool train) {
  ImageDataset ds = load(data_dir, kCifar100, {train ? "train.bin" : "test.bin"});
  ds.mean = {0.5071f, 0.4865f, 0.4409f};
  ds.std = {0.2673f, 0.2564f, 0.2762f};
  return ds;
}

}  // namespace mfd
