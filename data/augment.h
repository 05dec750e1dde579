// Training augmentation of the paper (as torchvision's RandomCrop(size, padding=4) and
// RandomHorizontalFlip()): zero-pad 4 pixels, crop back to the original size at a random offset,
// flip left-right with probability 0.5. Reproducible: the epoch's order is a function of
// (seed, epoch), and each image's crop and flip of (seed, epoch, sample index), never of threads
// or timing, so that a run resumed mid-epoch sees the same batches.
#pragma once
#include <cstdint>
#include <vector>

namespace mfd {

struct Augmentation {
  int dy = 0, dx = 0;  // crop offset in the padded image, each in [0, 2 * pad]
  bool flip = false;
};

Augmentation augmentation_for(uint64_t seed, int epoch, int64_t index, int pad);

// dst (C, H, W) = the crop of src (C, H, W) zero-padded by `pad`, at a's offset, flipped if a.flip.
void augment_image(const uint8_t* src, int64_t c, int64_t h, int64_t w, int pad, const Augmentation& a,
                   uint8_t* dst);

// A permutation of [0, n) (Fisher-Yates driven by Philox keyed by seed and epoch).
std::vector<int64_t> epoch_order(uint64_t seed, int epoch, int64_t n);

}  // namespace mfd
