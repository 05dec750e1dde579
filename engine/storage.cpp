#include "engine/storage.h"

#include "engine/backend.h"

namespace mfd {

Storage::Storage(size_t bytes, Device device) : bytes_(bytes), device_(device) {
  data_ = backend_for(device).allocate(bytes);
}

Storage::~Storage() { backend_for(device_).deallocate(data_, bytes_); }

}  // namespace mfd
