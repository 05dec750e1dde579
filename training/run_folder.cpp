#include "training/run_folder.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/error.h"
#include "engine/json.h"
#include "training/plot.h"

namespace mfd {

namespace fs = std::filesystem;

void write_file_atomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    MFD_CHECK(f && (f << text) && f.flush(), "cannot write ", tmp.string(), ": ", std::strerror(errno), "; ",
              path.string(), " is unchanged");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  MFD_CHECK(!ec, "cannot rename ", tmp.string(), " to ", path.string(), ": ", ec.message());
}

void RunFolder::create(const std::string& config_json, bool fresh) const {
  fs::create_directories(dir_);
  write_file_atomically(dir_ / "config.json", config_json + "\n");
  if (fresh || !fs::exists(dir_ / "metrics.jsonl")) write_file_atomically(dir_ / "metrics.jsonl", "");
}

void RunFolder::append_metrics(const std::string& json_line) const {
  std::ofstream f(dir_ / "metrics.jsonl", std::ios::app);
  MFD_CHECK(f && (f << json_line << "\n") && f.flush(), "cannot append to ", (dir_ / "metrics.jsonl").string(), ": ",
            std::strerror(errno));
}

int RunFolder::keep_metrics_of_epochs(int epochs) const {
  std::ifstream in(dir_ / "metrics.jsonl");
  std::string kept;
  int dropped = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    if (parse_json(line, (dir_ / "metrics.jsonl").string()).number_or("epoch", 0) <= epochs) kept += line + "\n";
    else ++dropped;
  }
  if (dropped) write_file_atomically(dir_ / "metrics.jsonl", kept);
  return dropped;
}

std::vector<double> RunFolder::metric(const std::string& key) const {
  std::vector<double> out;
  std::ifstream in(dir_ / "metrics.jsonl");
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(parse_json(line, (dir_ / "metrics.jsonl").string()).number_or(key, NAN));
  return out;
}

void RunFolder::write_results(const std::string& json) const { write_file_atomically(dir_ / "results.json", json + "\n"); }

void RunFolder::write_curves(const std::string& title) const {
  std::vector<double> accuracy = metric("test_acc");
  for (double& a : accuracy) a *= 100;
  write_curves_png((dir_ / "curves.png").string(), title, metric("train_loss"), accuracy);
}

}  // namespace mfd
