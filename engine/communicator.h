// Sums of tensors over the processes of a data-parallel run (engine/world.h): Open MPI for CPU
// tensors, NCCL for CUDA ones (its id broadcast over MPI, as llm.c does). What goes through it:
// the statistics that span the batch (MFD's sums and products, batch norm's moments), the
// gradients, and Center Loss's centre updates.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "engine/tensor.h"

namespace mfd {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual const char* name() const = 0;  // "mpi", "nccl", ...

  // t = the sum of every process's t, in place. Every process calls it with the same shapes in
  // the same order; each gets the same result, bit for bit. `what` names the traffic ("mfd",
  // "batch_norm", "gradients", ...) in bytes() and in the NVTX range.
  void all_reduce_sum(Tensor& t, const char* what);
  // t = process root's t.
  void broadcast(Tensor& t, int root, const char* what);
  // Bytes summed or broadcast so far, by `what`, and the seconds spent in the calls (on the CPU
  // the wait for the slowest process included; on CUDA, NCCL's, the time to enqueue them).
  const std::map<std::string, int64_t>& bytes() const { return bytes_; }
  int64_t total_bytes() const;
  double seconds() const { return seconds_; }

 protected:
  virtual void sum_in_place(Tensor& t) = 0;
  virtual void broadcast_in_place(Tensor& t, int root) = 0;

 private:
  std::map<std::string, int64_t> bytes_;
  double seconds_ = 0;
};

// One process alone: the sums are the values themselves. The data-parallel path runs through it
// in one process (tests), and it counts the bytes a run of several would exchange.
class SoloCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  const char* name() const override { return "solo"; }

 protected:
  void sum_in_place(Tensor&) override {}
  void broadcast_in_place(Tensor&, int) override {}
};

// The world's communicator for tensors on `device`, made on first use: MPI for the CPU; NCCL on
// CUDA, or MPI through host copies where NCCL's library cannot be loaded (said once). In a world
// of one, a SoloCommunicator.
Communicator& world_communicator(Device device);

// A NCCL communicator over the world's processes (in a world of one, a communicator of one: the
// GPU check runs the NCCL path so), or null, saying why: a build without CUDA, or no NCCL library.
std::unique_ptr<Communicator> make_nccl_communicator(std::string* why_not);
// "NCCL 2.27.3", or why NCCL cannot be used.
std::string nccl_library();

}  // namespace mfd
