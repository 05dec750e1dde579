// Channel concatenation on the CPU (DenseNet's dense connections).
#include <cstring>

#include "engine/cpu/kernels.h"

namespace mfd::cpu {

template <typename T>
void concat_channels(T* whole, int64_t n, int64_t total, int64_t m, const std::vector<T*>& pieces,
                     const std::vector<int64_t>& channels, bool to_pieces) {
  int64_t start = 0;
  for (size_t k = 0; k < pieces.size(); ++k) {
    const int64_t c = channels[k];
    T* piece = pieces[k];
    if (piece) {
#pragma omp parallel for schedule(static) if (n * c * m > 16384)
      for (int64_t i = 0; i < n; ++i) {
        T* wslice = whole + (i * total + start) * m;
        T* pslice = piece + i * c * m;
        if (to_pieces) {
          for (int64_t j = 0; j < c * m; ++j) pslice[j] += wslice[j];
        } else {
          std::memcpy(wslice, pslice, c * m * sizeof(T));
        }
      }
    }
    start += c;
  }
}

template void concat_channels<float>(float*, int64_t, int64_t, int64_t, const std::vector<float*>&,
                                     const std::vector<int64_t>&, bool);
template void concat_channels<double>(double*, int64_t, int64_t, int64_t, const std::vector<double*>&,
                                      const std::vector<int64_t>&, bool);

}  // namespace mfd::cpu
