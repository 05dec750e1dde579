// The processes of a data-parallel run: one per device, started by an existing launcher
// (mpirun, Slurm's srun) and joined through MPI. A program started alone is a world of one and
// never touches MPI, so it behaves as it always did. Sums of tensors go through
// engine/communicator.h; this file is the processes themselves and their host-side agreement.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mfd {

struct World {
  int rank = 0, size = 1;              // this process among all of them
  int local_rank = 0, local_size = 1;  // among those on this machine (its GPU, its share of the cores)
};

// What the launcher's environment says, before MPI starts: Open MPI's OMPI_COMM_WORLD_*, Slurm's
// SLURM_PROCID / SLURM_NTASKS / SLURM_LOCALID (inside a job step), MPICH's PMI_RANK / PMI_SIZE.
World launcher_world();

// Joins the launcher's processes when it started more than one (MPI_Init); a build without MPI
// fails there, saying how to get it. run_program calls it once, at every program's start.
void join_world();
const World& world();
// At a normal end, MPI_Finalize (nothing in a world of one).
void leave_world();
// Stops every process of the run at once with `code` (MPI_Abort), or this one alone.
[[noreturn]] void abort_world(int code);

// Collectives over host values: every process calls each, in the same order.
void world_sum(std::vector<double>& values);         // in place: the sum over the processes
bool world_any(bool flag);                            // whether any process's flag is set
std::vector<uint64_t> world_gather(uint64_t value);   // every process's value, by rank
// Every process's values (the same count on each), one after another by rank.
std::vector<double> world_gather(const std::vector<double>& values);
void world_broadcast(void* data, size_t bytes, int root);
void world_barrier();

// The MPI library this build uses ("Open MPI v4.1.4, ..."), or why there is none.
std::string mpi_library();

// "rank 1 of 4: " in a run of several processes, "" alone: what starts this process's messages.
std::string rank_prefix();

}  // namespace mfd
