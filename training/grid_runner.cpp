#include "training/grid_runner.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "engine/json.h"

namespace fs = std::filesystem;

namespace mfd {

namespace {

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=.,/:") ==
                        std::string::npos)
    return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Starts program (a path, or a name looked up on the PATH) with args and the environment
// variables `env` added, stdout and stderr appended to log; returns its pid.
pid_t spawn(const std::string& program, const std::vector<std::string>& args, const std::string& log,
            const std::map<std::string, std::string>& env = {}) {
  const pid_t pid = fork();
  MFD_CHECK(pid >= 0, "fork failed: cannot start ", program);
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) dup2(fd, 1), dup2(fd, 2), close(fd);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<std::string> argv_text = {program};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(program.c_str(), argv.data());
    std::fprintf(stderr, "reproduce: cannot run %s%s\n", program.c_str(),
                 program.find('/') == std::string::npos ? " (not on the PATH; is openmpi-bin installed?)" : "");
    _exit(127);
  }
  return pid;
}

// The launcher of a data-parallel run (MFD_MPIRUN, else Open MPI's mpirun).
std::string mpirun() {
  const char* v = std::getenv("MFD_MPIRUN");
  return v && *v ? v : "mpirun";
}

}  // namespace

std::string shell_quote_all(const std::string& program, const std::vector<std::string>& args) {
  std::string out = shell_quote(program);
  for (const std::string& a : args) out += " " + shell_quote(a);
  return out;
}

std::vector<PlannedRun> runs_to_do(const std::vector<PlannedRun>& plan, std::vector<std::string>* conflicts) {
  std::vector<PlannedRun> todo;
  std::set<std::string> seen;
  for (const PlannedRun& run : plan) {
    if (!seen.insert(run.dir).second) continue;
    std::string why;
    const RunState state = run_state(run, &why);
    if (state == RunState::conflicting && conflicts)
      conflicts->push_back(run.dir + ": its config.json differs from the requested run in " + why +
                           "; left alone (remove the folder or pass another --runs)");
    if (state == RunState::missing || state == RunState::interrupted) todo.push_back(run);
  }
  return todo;
}

int execute_runs(const std::vector<PlannedRun>& runs, const std::string& train_program, const std::vector<int>& gpus,
                 int ranks) {
  MFD_CHECK(ranks >= 1, "--ranks-per-run must be >= 1, got ", ranks);
  MFD_CHECK(gpus.empty() || gpus.size() % ranks == 0, "--gpus lists ", gpus.size(), " GPUs for runs of ", ranks,
            " processes: list a multiple of --ranks-per-run");
  const size_t slots = gpus.empty() ? 1 : gpus.size() / ranks;
  std::map<pid_t, std::pair<size_t, size_t>> running;  // pid -> (run index, slot)
  std::vector<bool> busy(slots, false);
  int failures = 0;
  size_t next = 0, done = 0;
  while (done < runs.size()) {
    for (size_t slot = 0; slot < slots && next < runs.size(); ++slot) {
      if (busy[slot]) continue;
      const PlannedRun& run = runs[next];
      std::vector<std::string> args = run.train_args;
      std::map<std::string, std::string> env;
      std::string where;
      if (!gpus.empty() && ranks == 1) {
        args.insert(args.end(), {"--device", "cuda:" + std::to_string(gpus[slot])});
        where = " on cuda:" + std::to_string(gpus[slot]);
      } else if (!gpus.empty()) {  // a process per GPU of the slot's group
        std::string list;
        for (int r = 0; r < ranks; ++r) list += (r ? "," : "") + std::to_string(gpus[slot * ranks + r]);
        env["CUDA_VISIBLE_DEVICES"] = list;
        args.insert(args.end(), {"--device", "cuda"});
        where = " on GPUs " + list;
      }
      std::string program = train_program;
      if (ranks > 1) {
        args.insert(args.begin(), {"-np", std::to_string(ranks), train_program});
        program = mpirun();
        where += " (" + std::to_string(ranks) + " processes)";
      }
      fs::create_directories(run.dir);
      const std::string log = (fs::path(run.dir) / "train.log").string();
      std::printf("[%zu/%zu] %s%s: %s\n  log: %s\n", next + 1, runs.size(), run.name.c_str(), where.c_str(),
                  fs::exists(fs::path(run.dir) / "last.safetensors") ? "resuming" : "starting", log.c_str());
      std::fflush(stdout);
      running[spawn(program, args, log, env)] = {next++, slot};
      busy[slot] = true;
    }
    int status = 0;
    const pid_t pid = wait(&status);
    if (pid < 0) break;
    auto it = running.find(pid);
    if (it == running.end()) continue;
    const auto [index, slot] = it->second;
    running.erase(it);
    busy[slot] = false;
    ++done;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code != 0) ++failures;
    std::printf("  %s: %s\n", runs[index].name.c_str(),
                code == 0 ? "finished" : ("FAILED (exit " + std::to_string(code) + "; see its train.log)").c_str());
    std::fflush(stdout);
  }
  return failures;
}

std::string slurm_script(const std::string& job_name, const std::vector<PlannedRun>& runs,
                         const std::string& train_program, const std::string& workdir, const std::string& log_dir,
                         int ranks) {
  MFD_CHECK(!runs.empty(), "no runs to submit");
  std::ostringstream s;
  s << "#!/bin/bash\n"
    << "# Generated by bin/reproduce: one array task per run of " << job_name << ", "
    << (ranks > 1 ? std::to_string(ranks) + " processes on one node, a GPU each" : "one GPU each") << ".\n"
    << "# Finished runs were left out; an interrupted one resumes from its last checkpoint.\n"
    << "#SBATCH --job-name=" << job_name << "\n"
    << "#SBATCH --array=0-" << runs.size() - 1 << "\n";
  if (ranks > 1) s << "#SBATCH --nodes=1\n#SBATCH --ntasks-per-node=" << ranks << "\n";
  s << "#SBATCH --gres=gpu:" << ranks << "\n"
    << "#SBATCH --cpus-per-task=8\n"
    << "#SBATCH --output=" << log_dir << "/slurm-%A_%a.log\n"
    << "set -euo pipefail\n"
    << "cd " << shell_quote(workdir) << "\n"
    << "case \"$SLURM_ARRAY_TASK_ID\" in\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    std::vector<std::string> args = runs[i].train_args;
    args.insert(args.end(), {"--device", "cuda"});
    s << "  " << i << ") exec " << (ranks > 1 ? "srun --ntasks=" + std::to_string(ranks) + " " : "")
      << shell_quote_all(train_program, args) << " ;;\n";
  }
  s << "  *) echo \"no run for array task $SLURM_ARRAY_TASK_ID\" >&2; exit 2 ;;\n"
    << "esac\n";
  return s.str();
}

double measured_images_per_s(const RunConfig& config, const std::string& runs_dir) {
  std::vector<double> rates;
  if (!fs::is_directory(runs_dir)) return 0.0;
  for (const auto& entry : fs::directory_iterator(runs_dir)) {
    const fs::path cfg = entry.path() / "config.json", metrics = entry.path() / "metrics.jsonl";
    if (!fs::exists(cfg) || !fs::exists(metrics)) continue;
    try {
      const Json c = read_json_file(cfg.string());
      const std::map<std::string, std::string> want = config.to_map();
      bool same = true;
      for (const char* key : {"model", "dataset", "width", "batch"}) same = same && c.has(key) && c.at(key).text == want.at(key);
      if (!same) continue;
      std::ifstream in(metrics);
      for (std::string line; std::getline(in, line);) {
        const double r = parse_json(line, metrics.string()).number_or("images_per_s", 0.0);
        if (r > 0) rates.push_back(r);
      }
    } catch (const Error&) {
      continue;  // a half-written file of a running job
    }
  }
  if (rates.empty()) return 0.0;
  std::nth_element(rates.begin(), rates.begin() + rates.size() / 2, rates.end());
  return rates[rates.size() / 2];
}

double assumed_images_per_s(const std::string& model, Scale scale) {
  static const std::map<std::string, std::pair<double, double>> speeds = {
      // model: {H200, full scale; 2-core CPU, small scale}
      {"resnet18", {6000, 250}},       {"resnet50", {3000, 95}},     {"resnext50_32x4d", {2000, 63}},
      {"densenet121", {1500, 71}},     {"mobilenet_v2", {5000, 555}}};
  auto it = speeds.find(model);
  if (it == speeds.end()) return 0.0;
  return scale == Scale::full ? it->second.first : it->second.second;
}

std::string dry_run_report(const std::string& grid, const std::vector<PlannedRun>& todo, const GridOptions& options,
                           const std::string& train_program, double images_per_s) {
  std::ostringstream os;
  double hours = 0.0;
  int assumed = 0, unknown = 0;
  std::set<std::string> missing;
  for (const PlannedRun& run : todo) {
    double rate = images_per_s;
    const char* source = "given";
    if (rate <= 0) rate = measured_images_per_s(run.config, options.runs_dir), source = "measured";
    if (rate <= 0) rate = assumed_images_per_s(run.config.model, options.scale), source = "assumed", ++assumed;
    const double h = rate > 0 ? run.config.epochs * static_cast<double>(train_images_per_epoch(run.config)) / rate / 3600 : 0;
    hours += h;
    unknown += rate > 0 ? 0 : 1;
    if (!dataset_present(run.config.dataset, run.config.data_dir)) missing.insert(run.config.dataset);
    char line[160];
    std::snprintf(line, sizeof line, "  %-11s ", run_state_name(run_state(run)));
    os << line << run.name << "\n      " << shell_quote_all(train_program, run.train_args) << "\n";
    if (rate > 0) std::snprintf(line, sizeof line, "      %.0f images/s (%s) -> %.2f h of training\n", rate, source, h), os << line;
  }
  char total[256];
  std::snprintf(total, sizeof total, "estimated: %.1f %s hours of training for %zu runs", hours,
                options.scale == Scale::full ? "GPU" : "CPU", todo.size() - unknown);
  os << total;
  if (assumed)
    os << " (" << assumed << " at assumed speeds, not measured: "
       << (options.scale == Scale::full ? "one H200 with TF32 at batch 128, README's \"GPU hours\""
                                        : "a 2-core CPU, one thread per run, docs/results/README.md")
       << "; once a run of a model has logged an epoch in " << options.runs_dir << ", its measured speed is used)";
  if (unknown) os << "; " << unknown << " runs have no speed at all: pass --images-per-s";
  os << "\n";
  if (!missing.empty()) {
    os << "missing under " << options.data_dir << ":";
    for (const std::string& d : missing) os << " " << d << " (scripts/get-data.sh " << d << ")";
    os << "\n";
  }
  const std::string scale = options.scale == Scale::small ? " --scale small" : "";
  os << "to run it: bin/reproduce " << grid << scale << " (serially), bin/reproduce " << grid << scale
     << " --gpus 0,1,2,3 (one run per local GPU), or bin/reproduce " << grid << scale
     << " --slurm (a Slurm job array, one GPU per run)\n";
  return os.str();
}

}  // namespace mfd
