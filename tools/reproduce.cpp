// bin/reproduce GRID [options]: runs one of the paper's experiment grids (training/experiments.h)
// with bin/train, skipping finished runs and resuming interrupted ones, so that it can be stopped
// and started again at any time.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "training/report.h"
#include "training/grid_runner.h"

namespace fs = std::filesystem;

namespace {

const char* kUsage =
    "usage: reproduce GRID [options]    GRID: table1 table2 table3 table4 table5 table6\n"
    "  --scale full|small   the paper's recipe (default) or the reduced CPU recipe (width 0.125,\n"
    "                       10 epochs on 2,000 images, Fashion-MNIST for absent data sets)\n"
    "  --runs DIR           where the run folders go (default runs)\n"
    "  --data-dir DIR       the data sets (default data)\n"
    "  --seeds 0,1,2        the seeds of every cell (default 0,1,2)\n"
    "  --gpus 0,1,...       one run per listed local GPU at a time (default: serially, --device auto)\n"
    "  --slurm              write RUNS/GRID-SCALE.sbatch (a job array, one GPU per run) and submit it\n"
    "  --no-submit          with --slurm: write the script only\n"
    "  --dry-run            list the runs, their state and the estimated hours, and run nothing\n"
    "  --images-per-s N     the training speed for --dry-run's estimate (default: measured in RUNS)\n"
    "  --train PATH         the bin/train to run (default: the one beside this program)\n";

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(item);
  return out;
}

std::string program_dir() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? "bin" : self.parent_path().string();
}

int usage_error(const std::string& what) {
  std::fprintf(stderr, "reproduce: %s\n%s", what.c_str(), kUsage);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::printf("%s", kUsage);
    return argc < 2 ? 2 : 0;
  }
  const std::string grid = argv[1];
  mfd::GridOptions options;
  std::vector<int> gpus;
  bool slurm = false, submit = true, dry_run = false;
  double images_per_s = 0.0;
  std::string train = program_dir() + "/train";
  try {
    for (int i = 2; i < argc; ++i) {
      const std::string flag = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw mfd::Error(flag + " needs a value");
        return argv[++i];
      };
      if (mfd::apply_grid_option(flag, value, options)) continue;
      if (flag == "--gpus") {
        for (const std::string& g : split(value())) gpus.push_back(std::stoi(g));
      } else if (flag == "--slurm") slurm = true;
      else if (flag == "--no-submit") submit = false;
      else if (flag == "--dry-run") dry_run = true;
      else if (flag == "--images-per-s") images_per_s = std::stod(value());
      else if (flag == "--train") train = value();
      else throw mfd::Error("unknown option '" + flag + "'");
    }
  } catch (const std::exception& e) {
    return usage_error(e.what());
  }

  try {
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
      double hours = 0.0;
      int unmeasured = 0;
      for (const mfd::PlannedRun& run : todo) {
        const double rate = images_per_s > 0 ? images_per_s : mfd::measured_images_per_s(run.config, options.runs_dir);
        const double h = rate > 0 ? run.config.epochs * mfd::train_images_per_epoch(run.config) / rate / 3600 : 0.0;
        hours += h;
        unmeasured += rate > 0 ? 0 : 1;
        std::printf("  %-11s %s\n      %s\n", mfd::run_state_name(mfd::run_state(run)), run.name.c_str(),
                    mfd::shell_quote_all(train, run.train_args).c_str());
        if (rate > 0) std::printf("      %.0f images/s -> %.2f h of training\n", rate, h);
      }
      std::printf("estimated: %.1f device hours of training for %zu runs", hours, todo.size() - unmeasured);
      if (unmeasured)
        std::printf("; %d runs have no measured speed (no run of that model, data set, width and batch in %s yet: "
                    "run one epoch of one, or pass --images-per-s)",
                    unmeasured, options.runs_dir.c_str());
      std::printf("\n");
      return 0;
    }

    if (slurm) {
      if (todo.empty()) return std::printf("nothing to submit: every run is finished\n"), 0;
      fs::create_directories(options.runs_dir);
      const std::string script = (fs::path(options.runs_dir) / (label + ".sbatch")).string();
      const std::string workdir = fs::current_path().string();
      std::ofstream(script) << mfd::slurm_script("mfd-" + label, todo, fs::absolute(train).string(), workdir,
                                                 fs::absolute(options.runs_dir).string());
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
    const int failures = mfd::execute_runs(todo, train, gpus);
    if (grid == "table1" || grid == "table3") {
      std::printf("correlation analysis (Tables I and III):\n");
      std::printf("%s", mfd::render_report(grid, options).c_str());
    }
    std::printf("%s: %d of %zu runs failed%s\n", label.c_str(), failures, todo.size(),
                conflicts.empty() ? "" : "; some folders conflict (above)");
    return failures || !conflicts.empty() ? 1 : 0;
  } catch (const mfd::Error& e) {
    std::fprintf(stderr, "reproduce: %s\n", e.what());
    return 1;
  }
}
