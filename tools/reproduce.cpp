// bin/reproduce GRID [options]: runs one of the paper's experiment grids (training/experiments.h)
// with bin/train, skipping finished runs and resuming interrupted ones, so that it can be stopped
// and started again at any time.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "training/command_line.h"
#include "training/grid_runner.h"
#include "training/report.h"

namespace fs = std::filesystem;

namespace {

std::string program_dir() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? "bin" : self.parent_path().string();
}

}  // namespace

int main(int argc, char** argv) {
  mfd::GridOptions options;
  std::vector<int> gpus;
  int ranks = 1;
  bool slurm = false, submit = true, dry_run = false;
  double images_per_s = 0.0;
  std::string train = program_dir() + "/train";
  mfd::CommandLine cl;
  cl.program = "reproduce";
  cl.arguments = "GRID";
  cl.description = "  GRID: " + mfd::join(mfd::grid_names()) +
                   "\nRuns the grid's runs with bin/train, skipping finished ones and resuming interrupted ones.";
  cl.min_positional = cl.max_positional = 1;
  cl.flags = mfd::grid_flags(options);
  const std::vector<mfd::Flag> own = {
      {"gpus", "LIST", [&](const std::string& v) { gpus = mfd::parse_ints("--gpus", v); },
       "one run per listed local GPU at a time", "serially, --device auto"},
      {"ranks-per-run", "N", [&](const std::string& v) { ranks = static_cast<int>(mfd::parse_int("--ranks-per-run", v)); },
       "each run a data-parallel job of N processes (mpirun; with --slurm srun), with --gpus a GPU each", "1"},
      {"slurm", "", [&](const std::string& v) { slurm = mfd::parse_bool("--slurm", v); },
       "write RUNS/GRID-SCALE.sbatch (a job array, one GPU per run) and submit it", ""},
      {"no-submit", "", [&](const std::string& v) { submit = !mfd::parse_bool("--no-submit", v); }, "with --slurm: write the script only", ""},
      {"dry-run", "", [&](const std::string& v) { dry_run = mfd::parse_bool("--dry-run", v); },
       "list the runs, their state and the estimated hours, and run nothing", ""},
      {"images-per-s", "N", [&](const std::string& v) { images_per_s = mfd::parse_double("--images-per-s", v); },
       "the training speed for --dry-run's estimate", "measured in RUNS, else assumed"},
      {"train", "PATH", [&](const std::string& v) { train = v; }, "the bin/train to run", "the one beside this program"},
  };
  cl.flags.insert(cl.flags.end(), own.begin(), own.end());
  return mfd::run_program(cl, argc, argv, [&](const std::vector<std::string>& positional) {
    const std::string& grid = positional[0];
    const std::vector<std::string> grids = mfd::grid_names();
    if (std::find(grids.begin(), grids.end(), grid) == grids.end())
      throw mfd::UsageError("unknown grid '" + grid + "' (valid: " + mfd::join(grids) + ")");
    const std::vector<mfd::PlannedRun> plan = mfd::plan_grid(grid, options);
    std::vector<std::string> conflicts;
    const std::vector<mfd::PlannedRun> todo = mfd::runs_to_do(plan, &conflicts);
    const std::string label = grid + "-" + mfd::scale_name(options.scale);
    std::set<std::string> folders;
    for (const mfd::PlannedRun& run : plan) folders.insert(run.dir);
    std::printf("%s: %zu runs in the grid (%zu folders), %zu to do%s\n", label.c_str(), plan.size(), folders.size(),
                todo.size(),
                options.scale == mfd::Scale::small ? " [SMALL SCALE: a reduced recipe, not the paper's]" : "");
    for (const std::string& c : conflicts) std::fprintf(stderr, "reproduce: conflicting run: %s\n", c.c_str());

    if (dry_run) {
      std::printf("%s", mfd::dry_run_report(grid, todo, options, train, images_per_s).c_str());
      return 0;
    }

    if (slurm) {
      if (todo.empty()) return std::printf("nothing to submit: every run is finished\n"), 0;
      fs::create_directories(options.runs_dir);
      const std::string script = (fs::path(options.runs_dir) / (label + ".sbatch")).string();
      const std::string workdir = fs::current_path().string();
      std::ofstream(script) << mfd::slurm_script("mfd-" + label, todo, fs::absolute(train).string(), workdir,
                                                 fs::absolute(options.runs_dir).string(), ranks);
      std::printf("wrote %s (%zu array tasks)\n", script.c_str(), todo.size());
      if (!submit) return 0;
      if (std::system("command -v sbatch > /dev/null 2>&1") != 0) {
        std::fprintf(stderr, "reproduce: sbatch is not on the PATH: submit %s on the cluster with `sbatch %s`, "
                             "or pass --no-submit\n", script.c_str(), script.c_str());
        return 1;
      }
      return std::system(("sbatch " + script).c_str()) == 0 ? 0 : 1;
    }

    MFD_CHECK(access(train.c_str(), X_OK) == 0, "cannot run ", train, " (build it with `make`, or pass --train PATH)");
    const int failures = mfd::execute_runs(todo, train, gpus, ranks);
    if (grid == "table1" || grid == "table3") {
      std::printf("correlation analysis (Tables I and III):\n");
      std::printf("%s", mfd::render_report(grid, options).c_str());
    }
    std::printf("%s: %d of %zu runs failed%s\n", label.c_str(), failures, todo.size(),
                conflicts.empty() ? "" : "; some folders conflict (above)");
    return failures || !conflicts.empty() ? 1 : 0;
  });
}
