// A compact uint8 cache of a decoded image data set, next to the data, so that later runs start
// in seconds: a header (magic, version, sizes, a fingerprint of the source files), the labels and
// the pixels. A cache whose fingerprint or sizes differ is stale and is rebuilt.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace mfd {

// The fingerprint of a list of files: their names, sizes and modification times.
uint64_t files_fingerprint(const std::vector<std::string>& paths);

// Loads `path` into ds (pixels, labels, n, c, h, w, num_classes) when it exists and matches
// `fingerprint`; returns false otherwise (missing, stale or damaged: the caller rebuilds).
bool load_image_cache(const std::string& path, uint64_t fingerprint, ImageDataset& ds);
// Writes atomically; returns false (and writes nothing) where the folder is not writable.
bool save_image_cache(const std::string& path, uint64_t fingerprint, const ImageDataset& ds);

// The images at `paths` (labels alongside) decoded to 3 x size x size (data/image_decode.h), from
// the cache at `cache` when it matches the files, else decoded in parallel and cached there.
// An undecodable image fails with its file named. Sets pixels, labels and sizes, not the name
// or the normalisation.
ImageDataset cached_image_dataset(const std::vector<std::string>& paths, const std::vector<int32_t>& labels,
                                  int num_classes, int size, const std::string& cache);

}  // namespace mfd
