#include "engine/communicator.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>

#include "engine/nvtx.h"
#include "engine/world.h"

#ifdef MFD_WITH_MPI
#include <mpi.h>
#endif

namespace mfd {

#ifdef MFD_WITH_CUDA
namespace cuda {
// engine/cuda/nccl.cu: NCCL loaded at run time, so that a machine without it still runs one GPU.
bool nccl_available(std::string* why_not);
std::unique_ptr<Communicator> make_nccl_communicator();
int nccl_version();
}  // namespace cuda
#endif

namespace {
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

void Communicator::all_reduce_sum(Tensor& t, const char* what) {
  MFD_CHECK(is_floating(t.dtype()), "all_reduce_sum (", what, "): a ", dtype_name(t.dtype()), " tensor");
  MFD_NVTX_RANGE(what);
  bytes_[what] += static_cast<int64_t>(t.nbytes());
  const double t0 = now_seconds();
  if (t.numel() > 0) sum_in_place(t);
  seconds_ += now_seconds() - t0;
}

void Communicator::broadcast(Tensor& t, int root, const char* what) {
  MFD_NVTX_RANGE(what);
  bytes_[what] += static_cast<int64_t>(t.nbytes());
  const double t0 = now_seconds();
  if (t.numel() > 0) broadcast_in_place(t, root);
  seconds_ += now_seconds() - t0;
}

int64_t Communicator::total_bytes() const {
  int64_t n = 0;
  for (const auto& [what, b] : bytes_) n += b;
  return n;
}

namespace {

#ifdef MFD_WITH_MPI
MPI_Datatype mpi_type(DType d) {
  switch (d) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i32: return MPI_INT32_T;
    default: fail("MPI: no type for ", dtype_name(d));
  }
}

// MPI's sum of floating values gives every process the same bits: with two processes both add
// the same two numbers, and Open MPI's larger algorithms reduce each piece once and share it.
// The data-parallel tests check it (parameters equal on every rank after the steps).
class MpiCommunicator : public Communicator {
 public:
  int rank() const override { return world().rank; }
  int size() const override { return world().size; }
  const char* name() const override { return "mpi"; }

 protected:
  void sum_in_place(Tensor& t) override {
    for_chunks(t, [&](char* p, int n) { MPI_Allreduce(MPI_IN_PLACE, p, n, mpi_type(t.dtype()), MPI_SUM, MPI_COMM_WORLD); });
  }
  void broadcast_in_place(Tensor& t, int root) override {
    for_chunks(t, [&](char* p, int n) { MPI_Bcast(p, n, mpi_type(t.dtype()), root, MPI_COMM_WORLD); });
  }

 private:
  // MPI counts are ints: a larger tensor goes in pieces.
  template <typename F> static void for_chunks(Tensor& t, F f) {
    MFD_CHECK(t.device() == Device::cpu, "the MPI communicator sums CPU tensors");
    const size_t item = dtype_size(t.dtype());
    char* p = static_cast<char*>(t.raw());
    for (int64_t done = 0; done < t.numel();) {
      const int n = static_cast<int>(std::min<int64_t>(t.numel() - done, INT_MAX));
      f(p + done * item, n);
      done += n;
    }
  }
};

// CUDA tensors through MPI by way of host copies, where NCCL cannot be loaded: correct, slow.
class HostStagedCommunicator : public MpiCommunicator {
 public:
  const char* name() const override { return "mpi (host copies)"; }

 protected:
  void sum_in_place(Tensor& t) override {
    Tensor host = t.to(Device::cpu);
    MpiCommunicator::sum_in_place(host);
    t.copy_from(host);
  }
  void broadcast_in_place(Tensor& t, int root) override {
    Tensor host = t.to(Device::cpu);
    MpiCommunicator::broadcast_in_place(host, root);
    t.copy_from(host);
  }
};
#endif

std::unique_ptr<Communicator> make_world_communicator(Device device) {
  if (world().size == 1) return std::make_unique<SoloCommunicator>();
#ifdef MFD_WITH_MPI
#ifdef MFD_WITH_CUDA
  if (device == Device::cuda) {
    std::string why;
    if (cuda::nccl_available(&why)) return cuda::make_nccl_communicator();
    if (world().rank == 0)
      std::fprintf(stderr, "note: NCCL cannot be loaded (%s): GPU sums go through MPI and host copies, "
                   "much slower\n", why.c_str());
    return std::make_unique<HostStagedCommunicator>();
  }
#endif
  (void)device;
  return std::make_unique<MpiCommunicator>();
#else
  (void)device;
  fail("several processes without MPI");  // join_world refused them already
#endif
}

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(std::string* why_not) {
#ifdef MFD_WITH_CUDA
  if (!cuda::nccl_available(why_not)) return nullptr;
  return cuda::make_nccl_communicator();
#else
  if (why_not) *why_not = "built without CUDA";
  return nullptr;
#endif
}

std::string nccl_library() {
#ifdef MFD_WITH_CUDA
  std::string why;
  if (!cuda::nccl_available(&why)) return "not loadable: " + why;
  const int v = cuda::nccl_version();  // e.g. 22703 for 2.27.3
  return "NCCL " + std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
#else
  return "none (built without CUDA)";
#endif
}

Communicator& world_communicator(Device device) {
  static std::unique_ptr<Communicator> cpu, cuda;
  std::unique_ptr<Communicator>& c = device == Device::cpu ? cpu : cuda;
  if (!c) c = make_world_communicator(device);
  return *c;
}

}  // namespace mfd
