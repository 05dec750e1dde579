#include "data/facescrub.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "data/image_cache.h"
#include "engine/error.h"
#include "engine/philox.h"

namespace mfd {

namespace fs = std::filesystem;

namespace {

const char* const kLayout =
    "Expected facescrub/<identity>/*.jpg|png (optionally facescrub/train/<identity>/ and facescrub/test/<identity>/). "
    "FaceScrub is published as lists of image URLs with face boxes (vintage.winklerbros.net/facescrub.html); "
    "scripts/prepare-facescrub.py turns the lists and the downloaded images into this layout.";

bool is_image(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

// identity -> its image files (sorted), for every sub-folder of dir.
std::map<std::string, std::vector<std::string>> scan(const fs::path& dir) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_directory()) continue;
    std::vector<std::string>& files = out[e.path().filename().string()];
    for (const auto& f : fs::directory_iterator(e.path()))
      if (f.is_regular_file() && is_image(f.path())) files.push_back(f.path().string());
    std::sort(files.begin(), files.end());
  }
  return out;
}

std::vector<std::string> choose_identities(const std::map<std::string, std::vector<std::string>>& all,
                                           const FaceScrubOptions& o) {
  std::vector<std::string> chosen;
  if (!o.identities_file.empty()) {
    std::ifstream f(o.identities_file);
    MFD_CHECK(f, "FaceScrub: identities file ", o.identities_file, " not found");
    for (std::string line; std::getline(f, line);) {
      line = line.substr(0, line.find_last_not_of(" \r\t") + 1);
      if (line.empty()) continue;
      MFD_CHECK(all.count(line), "FaceScrub: identity '", line, "' of ", o.identities_file, " has no folder");
      chosen.push_back(line);
    }
  } else {
    std::vector<std::pair<size_t, std::string>> by_count;
    for (const auto& [name, files] : all) by_count.emplace_back(files.size(), name);
    std::sort(by_count.begin(), by_count.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;  // most images, then name
    });
    for (size_t i = 0; i < by_count.size() && static_cast<int>(i) < o.identities; ++i)
      chosen.push_back(by_count[i].second);
  }
  std::sort(chosen.begin(), chosen.end());  // labels in name order
  return chosen;
}

ImageDataset decode_all(const std::vector<std::string>& paths, const std::vector<int32_t>& labels, int classes,
                        const std::string& cache) {
  ImageDataset ds = cached_image_dataset(paths, labels, classes, 64, cache);
  ds.name = "facescrub";
  ds.mean = {0.5f, 0.5f, 0.5f};  // no published constants: the usual symmetric normalisation
  ds.std = {0.5f, 0.5f, 0.5f};
  return ds;
}

}  // namespace

FaceScrubData load_facescrub(const std::string& data_dir, const FaceScrubOptions& o) {
  const fs::path root = fs::path(data_dir) / "facescrub";
  MFD_CHECK(fs::is_directory(root), "FaceScrub: ", root.string(), " not found. ", kLayout);
  FaceScrubData out;
  out.split_from_folders = fs::is_directory(root / "train") && fs::is_directory(root / "test");
  std::vector<std::string> train_paths, test_paths;
  std::vector<int32_t> train_labels, test_labels;
  int classes = 0;
  if (out.split_from_folders) {
    auto train = scan(root / "train"), test = scan(root / "test");
    std::vector<std::string> ids = choose_identities(train, o);
    classes = static_cast<int>(ids.size());
    for (size_t k = 0; k < ids.size(); ++k) {
      for (const std::string& p : train[ids[k]]) train_paths.push_back(p), train_labels.push_back(static_cast<int32_t>(k));
      for (const std::string& p : test[ids[k]]) test_paths.push_back(p), test_labels.push_back(static_cast<int32_t>(k));
    }
  } else {
    auto all = scan(root);
    std::vector<std::string> ids = choose_identities(all, o);
    MFD_CHECK(!ids.empty(), "FaceScrub: no identity folders with images in ", root.string(), ". ", kLayout);
    classes = static_cast<int>(ids.size());
    std::ofstream record;
    if (!o.split_record.empty()) {
      record.open(o.split_record);
      MFD_CHECK(record, "cannot write the split record ", o.split_record);
    }
    for (size_t k = 0; k < ids.size(); ++k) {
      std::vector<std::string> files = all[ids[k]];
      for (int64_t i = static_cast<int64_t>(files.size()) - 1; i > 0; --i) {  // seeded per-identity shuffle
        const double u = philox_uniform(o.split_seed ^ 0x73706c6974ULL /* "split" */, k << 32, static_cast<uint64_t>(i));
        std::swap(files[i], files[std::min<int64_t>(i, static_cast<int64_t>(u * (i + 1)))]);
      }
      const size_t n_test = files.size() < 2 ? 0 : std::max<size_t>(1, std::lround(files.size() * o.test_fraction));
      for (size_t i = 0; i < files.size(); ++i) {
        const bool test = i < n_test;
        (test ? test_paths : train_paths).push_back(files[i]);
        (test ? test_labels : train_labels).push_back(static_cast<int32_t>(k));
        if (record.is_open()) record << (test ? "test " : "train ") << files[i] << "\n";
      }
    }
  }
  out.train = decode_all(train_paths, train_labels, classes, (root / "mfd-cache-train.bin").string());
  out.test = decode_all(test_paths, test_labels, classes, (root / "mfd-cache-test.bin").string());
  return out;
}

}  // namespace mfd
