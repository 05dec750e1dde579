#include "engine/world.h"

#include <omp.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/error.h"

#ifdef MFD_WITH_MPI
#include <mpi.h>
#endif

namespace mfd {

namespace {

World g_world;
bool g_joined = false;

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

// Whether a launcher started this process as one of several (or under a PMIx server, which
// answers the count itself).
bool launched_as_several() {
  return launcher_world().size > 1 || std::getenv("PMIX_RANK") != nullptr;
}

#ifdef MFD_WITH_MPI
// The processes on this machine: MPI's shared-memory split, whatever the launcher.
void find_local_place() {
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_world.rank, MPI_INFO_NULL, &local);
  MPI_Comm_rank(local, &g_world.local_rank);
  MPI_Comm_size(local, &g_world.local_size);
  MPI_Comm_free(&local);
}

// Each process's share of the cores, unless the user or the launcher's binding says otherwise:
// with several processes on a machine and no binding, every one would start a thread per core.
void share_the_cores() {
  if (g_world.local_size <= 1 || std::getenv("OMP_NUM_THREADS")) return;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return;
  const int usable = CPU_COUNT(&set), online = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  if (usable < online) return;  // bound by the launcher: libgomp already counts only those cores
  omp_set_num_threads(std::max(1, usable / g_world.local_size));
}
#endif

}  // namespace

World launcher_world() {
  World w;
  if (std::getenv("OMPI_COMM_WORLD_SIZE")) {  // Open MPI's mpirun
    w.size = env_int("OMPI_COMM_WORLD_SIZE", 1), w.rank = env_int("OMPI_COMM_WORLD_RANK", 0);
    w.local_size = env_int("OMPI_COMM_WORLD_LOCAL_SIZE", 1), w.local_rank = env_int("OMPI_COMM_WORLD_LOCAL_RANK", 0);
  } else if (std::getenv("PMI_SIZE")) {  // MPICH's Hydra, Slurm's PMI-2
    w.size = env_int("PMI_SIZE", 1), w.rank = env_int("PMI_RANK", 0);
    w.local_size = env_int("MPI_LOCALNRANKS", 1), w.local_rank = env_int("MPI_LOCALRANKID", 0);
  } else if (std::getenv("SLURM_STEP_NUM_TASKS") && std::getenv("SLURM_STEP_ID")) {  // inside srun
    w.size = env_int("SLURM_STEP_NUM_TASKS", 1), w.rank = env_int("SLURM_PROCID", 0);
    w.local_rank = env_int("SLURM_LOCALID", 0);
    w.local_size = env_int("SLURM_STEP_TASKS_PER_NODE", 1);  // "2(x3)" reads as 2
  }
  return w;
}

void join_world() {
  if (g_joined || !launched_as_several()) return;
#ifdef MFD_WITH_MPI
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  g_joined = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_world.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_world.size);
  find_local_place();
  share_the_cores();
#else
  const World w = launcher_world();
  if (w.size <= 1) return;  // a PMIx server with one process: alone, as without it
  fail("started as rank ", w.rank, " of ", w.size, " by a launcher, but this build has no MPI (built with MPI=0, or "
       "mpicxx was missing): apt-get install libopenmpi-dev openmpi-bin (scripts/install-deps.sh) and rebuild with "
       "make, or run one process");
#endif
}

const World& world() { return g_world; }

void leave_world() {
#ifdef MFD_WITH_MPI
  if (g_joined) MPI_Finalize();
#endif
  g_joined = false;
}

void abort_world(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
#ifdef MFD_WITH_MPI
  if (g_joined && g_world.size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::_Exit(code);
}

std::string mpi_library() {
#ifdef MFD_WITH_MPI
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(text, &length);  // callable before MPI_Init
  std::string s(text, static_cast<size_t>(length));
  return s.substr(0, s.find_first_of(",\n"));
#else
  return "none (built with MPI=0, or without mpicxx)";
#endif
}

std::string rank_prefix() {
  return g_world.size > 1 ? "rank " + std::to_string(g_world.rank) + " of " + std::to_string(g_world.size) + ": " : "";
}

#ifdef MFD_WITH_MPI
void world_sum(std::vector<double>& values) {
  if (g_world.size > 1)
    MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

bool world_any(bool flag) {
  int v = flag ? 1 : 0;
  if (g_world.size > 1) MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return v != 0;
}

std::vector<uint64_t> world_gather(uint64_t value) {
  std::vector<uint64_t> all(g_world.size, value);
  if (g_world.size > 1) MPI_Allgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD);
  return all;
}

std::vector<double> world_gather(const std::vector<double>& values) {
  std::vector<double> all(values.size() * g_world.size);
  if (g_world.size <= 1) return values;
  MPI_Allgather(values.data(), static_cast<int>(values.size()), MPI_DOUBLE, all.data(), static_cast<int>(values.size()),
                MPI_DOUBLE, MPI_COMM_WORLD);
  return all;
}

void world_broadcast(void* data, size_t bytes, int root) {
  if (g_world.size <= 1) return;
  for (size_t done = 0; done < bytes;) {
    const int chunk = static_cast<int>(std::min<size_t>(bytes - done, INT_MAX));
    MPI_Bcast(static_cast<char*>(data) + done, chunk, MPI_BYTE, root, MPI_COMM_WORLD);
    done += static_cast<size_t>(chunk);
  }
}

void world_barrier() {
  if (g_world.size > 1) MPI_Barrier(MPI_COMM_WORLD);
}
#else
// Without MPI the world is always one process: every collective is the identity.
void world_sum(std::vector<double>&) {}
bool world_any(bool flag) { return flag; }
std::vector<uint64_t> world_gather(uint64_t value) { return {value}; }
std::vector<double> world_gather(const std::vector<double>& values) { return values; }
void world_broadcast(void*, size_t, int) {}
void world_barrier() {}
#endif

}  // namespace mfd
