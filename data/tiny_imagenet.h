// Tiny ImageNet (200 classes of 64x64 RGB images) in the layout of its official zip:
//   <data_dir>/tiny-imagenet-200/wnids.txt                 the 200 class ids (sorted: label order)
//   <data_dir>/tiny-imagenet-200/train/<wnid>/images/*     500 training images per class
//   <data_dir>/tiny-imagenet-200/val/images/*, val/val_annotations.txt (file, wnid, box)
// The 10,000 validation images are the test set. Images are decoded once (grey ones expanded to
// RGB) into a cache file beside them (mfd-cache-{train,val}.bin), rebuilt when the files change.
// scripts/get-data.sh tinyimagenet downloads and unpacks the zip, checking its MD5.
#pragma once
#include <string>

#include "data/dataset.h"

namespace mfd {

ImageDataset load_tiny_imagenet(const std::string& data_dir, bool train);

}  // namespace mfd
