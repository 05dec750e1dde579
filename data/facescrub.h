// FaceScrub as an image folder: <data_dir>/facescrub/<identity>/*.jpg|png (faces already cropped,
// e.g. by scripts/prepare-facescrub.py from the official lists), resized to 64x64. The paper uses
// 100 identities: by default the 100 with the most images (ties broken by name), or those listed
// in a file. The split comes from train/ and test/ sub-folders when they exist, else from a
// deterministic per-identity split (20% test, seeded) that can be written to a file.
// The paper's split has 15,896 training and 3,896 test images.
#pragma once
#include <string>

#include "data/dataset.h"

namespace mfd {

struct FaceScrubOptions {
  int identities = 100;
  std::string identities_file;  // one identity (folder name) per line; overrides `identities`
  uint64_t split_seed = 0;
  double test_fraction = 0.2;
  std::string split_record;     // where to write "train|test <path>" lines for a generated split
};

struct FaceScrubData {
  ImageDataset train, test;
  bool split_from_folders = false;
};

FaceScrubData load_facescrub(const std::string& data_dir, const FaceScrubOptions& options = {});

}  // namespace mfd
