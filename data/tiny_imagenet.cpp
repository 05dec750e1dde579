#include "data/tiny_imagenet.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "data/image_cache.h"
#include "engine/error.h"

namespace mfd {

namespace fs = std::filesystem;

namespace {

const char* const kLayout =
    "Expected tiny-imagenet-200/ holding wnids.txt, train/<wnid>/images/*.JPEG and val/images/*.JPEG with "
    "val/val_annotations.txt (the official zip); download with scripts/get-data.sh tinyimagenet, or point "
    "--data-dir at the folder that holds tiny-imagenet-200/.";

std::vector<std::string> sorted_files(const fs::path& dir) {
  MFD_CHECK(fs::is_directory(dir), "Tiny ImageNet: ", dir.string(), " not found. ", kLayout);
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

ImageDataset load_tiny_imagenet(const std::string& data_dir, bool train) {
  const fs::path root = fs::path(data_dir) / "tiny-imagenet-200";
  MFD_CHECK(fs::is_directory(root), "Tiny ImageNet: ", root.string(), " not found. ", kLayout);
  std::ifstream wnids_file(root / "wnids.txt");
  MFD_CHECK(wnids_file, "Tiny ImageNet: ", (root / "wnids.txt").string(), " not found. ", kLayout);
  std::vector<std::string> wnids;
  for (std::string line; std::getline(wnids_file, line);)
    if (!line.empty()) wnids.push_back(line.substr(0, line.find_last_not_of(" \r\t") + 1));
  std::sort(wnids.begin(), wnids.end());
  std::map<std::string, int> label_of;
  for (size_t i = 0; i < wnids.size(); ++i) label_of[wnids[i]] = static_cast<int>(i);

  std::vector<std::string> paths;
  std::vector<int32_t> labels;
  if (train) {
    for (const std::string& wnid : wnids)
      for (const std::string& p : sorted_files(root / "train" / wnid / "images")) {
        paths.push_back(p);
        labels.push_back(label_of[wnid]);
      }
  } else {
    const fs::path annotations = root / "val" / "val_annotations.txt";
    std::ifstream f(annotations);
    MFD_CHECK(f, "Tiny ImageNet: ", annotations.string(), " not found. ", kLayout);
    int line_no = 0;
    for (std::string line; std::getline(f, line);) {
      ++line_no;
      if (line.empty()) continue;
      std::istringstream is(line);
      std::string file, wnid;
      is >> file >> wnid;
      auto it = label_of.find(wnid);
      MFD_CHECK(it != label_of.end(), annotations.string(), ": line ", line_no, " names class '", wnid,
                "', which wnids.txt does not list");
      paths.push_back((root / "val" / "images" / file).string());
      labels.push_back(it->second);
    }
  }

  const std::string cache = (root / (train ? "mfd-cache-train.bin" : "mfd-cache-val.bin")).string();
  ImageDataset ds = cached_image_dataset(paths, labels, static_cast<int>(wnids.size()), 64, cache);
  ds.name = "tinyimagenet";
  ds.mean = {0.4802f, 0.4481f, 0.3975f};
  ds.std = {0.2302f, 0.2265f, 0.2262f};
  return ds;
}

}  // namespace mfd
