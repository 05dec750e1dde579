// CIFAR-10 and CIFAR-100 in their binary versions, as downloaded from the authors' site:
//   <data_dir>/cifar-10-batches-bin/data_batch_{1..5}.bin, test_batch.bin
//       records of 1 label byte + 3072 pixel bytes (1024 R, 1024 G, 1024 B, row-major 32x32);
//   <data_dir>/cifar-100-binary/train.bin, test.bin
//       records of 1 coarse label byte + 1 fine label byte + 3072 pixel bytes (the paper uses the
//       100 fine labels).
// scripts/get-data.sh cifar10|cifar100 downloads and unpacks them, checking the published MD5.
#pragma once
#include <string>

#include "data/dataset.h"

namespace mfd {

// Fails with an Error naming the data set, the path looked at, the expected layout and the
// download command for a missing folder or file; the file, its size and the record size for a
// wrong-sized file; the file and record for a label out of range.
ImageDataset load_cifar10(const std::string& data_dir, bool train);
ImageDataset load_cifar100(const std::string& data_dir, bool train);

}  // namespace mfd
