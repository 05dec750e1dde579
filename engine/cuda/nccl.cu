// NCCL, the communicator for CUDA tensors of a data-parallel run (engine/communicator.h): one
// communicator over every process, bootstrapped by broadcasting rank 0's ncclUniqueId over MPI
// (as llm.c does), its sums enqueued on the one stream so that a step never waits for them.
// libnccl.so.2 is loaded at run time (dlopen): a machine without it still trains on one GPU, and
// the GPU bundle needs no NCCL to start (scripts/gpu-check.sh finds it beside cuDNN).
#include <dlfcn.h>
#include <nccl.h>

#include <memory>
#include <string>
#include <type_traits>

#include "engine/communicator.h"
#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/world.h"

namespace mfd::cuda {

namespace {

// The few entry points used, resolved from the library.
struct Nccl {
  decltype(&ncclGetVersion) get_version = nullptr;
  decltype(&ncclGetUniqueId) get_unique_id = nullptr;
  decltype(&ncclCommInitRank) comm_init_rank = nullptr;
  decltype(&ncclAllReduce) all_reduce = nullptr;
  decltype(&ncclBroadcast) broadcast = nullptr;
  decltype(&ncclGetErrorString) error_string = nullptr;
  std::string why_not;  // empty once loaded
};

const Nccl& nccl() {
  static const Nccl n = [] {
    Nccl l;
    void* lib = dlopen("libnccl.so.2", RTLD_NOW | RTLD_GLOBAL);
    if (!lib) lib = dlopen("libnccl.so", RTLD_NOW | RTLD_GLOBAL);
    if (!lib) {
      l.why_not = std::string("libnccl.so.2 not found (") + dlerror() + "; PyTorch's pip wheels bring it in "
                  "nvidia/nccl/lib, the CUDA toolkit in lib64: put that folder in LD_LIBRARY_PATH)";
      return l;
    }
    auto get = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
      if (!fn && l.why_not.empty()) l.why_not = std::string("libnccl.so.2 lacks ") + name;
    };
    get(l.get_version, "ncclGetVersion");
    get(l.get_unique_id, "ncclGetUniqueId");
    get(l.comm_init_rank, "ncclCommInitRank");
    get(l.all_reduce, "ncclAllReduce");
    get(l.broadcast, "ncclBroadcast");
    get(l.error_string, "ncclGetErrorString");
    return l;
  }();
  return n;
}

void check(ncclResult_t r, const char* call) {
  if (r == ncclSuccess) return;
  fail("NCCL error in ", call, ": ", nccl().error_string ? nccl().error_string(r) : "?", " (", static_cast<int>(r),
       "); NCCL_DEBUG=INFO says more");
}

ncclDataType_t nccl_type(DType d) {
  switch (d) {
    case DType::f32: return ncclFloat32;
    case DType::f64: return ncclFloat64;
    default: fail("NCCL: no type for ", dtype_name(d));
  }
}

class NcclCommunicator : public Communicator {
 public:
  NcclCommunicator(int rank, int size) : rank_(rank), size_(size) {
    ncclUniqueId id;
    if (rank == 0) check(nccl().get_unique_id(&id), "ncclGetUniqueId");
    world_broadcast(&id, sizeof id, 0);
    stream();  // the device is chosen and its context made before NCCL binds to it
    check(nccl().comm_init_rank(&comm_, size, id, rank), "ncclCommInitRank");
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* name() const override { return "nccl"; }

 protected:
  void sum_in_place(Tensor& t) override {
    MFD_CHECK(t.device() == Device::cuda, "the NCCL communicator sums CUDA tensors");
    check(nccl().all_reduce(t.raw(), t.raw(), static_cast<size_t>(t.numel()), nccl_type(t.dtype()), ncclSum, comm_,
                            stream()),
          "ncclAllReduce");
  }
  void broadcast_in_place(Tensor& t, int root) override {
    MFD_CHECK(t.device() == Device::cuda, "the NCCL communicator broadcasts CUDA tensors");
    check(nccl().broadcast(t.raw(), t.raw(), static_cast<size_t>(t.numel()), nccl_type(t.dtype()), root, comm_,
                           stream()),
          "ncclBroadcast");
  }

 private:
  int rank_, size_;
  ncclComm_t comm_ = nullptr;  // never destroyed: the driver cleans up at exit, as with the context
};

}  // namespace

bool nccl_available(std::string* why_not) {
  const Nccl& n = nccl();
  if (why_not) *why_not = n.why_not;
  return n.why_not.empty();
}

int nccl_version() {
  int v = 0;
  if (nccl_available(nullptr)) nccl().get_version(&v);
  return v;
}

// Over the world's processes (a world of one makes a communicator of one: gpu-check runs that).
std::unique_ptr<Communicator> make_nccl_communicator() {
  std::string why;
  MFD_CHECK(nccl_available(&why), "NCCL: ", why);
  return std::make_unique<NcclCommunicator>(world().rank, world().size);
}

}  // namespace mfd::cuda
