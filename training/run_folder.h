// The files of a run folder (README, "Training: bin/train"): config.json, metrics.jsonl (a line
// per epoch), last.safetensors and best.safetensors, results.json and curves.png. Every file is
// written whole to a temporary name and renamed, except metrics.jsonl, which grows a line at a
// time and is cut back on resume to the epochs its checkpoint holds.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace mfd {

class RunFolder {
 public:
  explicit RunFolder(const std::string& dir) : dir_(dir) {}
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path last() const { return dir_ / "last.safetensors"; }
  std::filesystem::path best() const { return dir_ / "best.safetensors"; }
  bool finished() const { return std::filesystem::exists(dir_ / "results.json"); }
  bool has_checkpoint() const { return std::filesystem::exists(last()); }

  // Creates the folder with config.json (replaced when given again) and metrics.jsonl, emptied
  // for a `fresh` start (lines of a run that never wrote a checkpoint go), else kept.
  void create(const std::string& config_json, bool fresh) const;
  void append_metrics(const std::string& json_line) const;
  // Keeps the lines of epochs 1..epochs and drops later ones (logged before a checkpoint that
  // then failed to be written); returns the number dropped.
  int keep_metrics_of_epochs(int epochs) const;
  // The numbers of one field of metrics.jsonl, a line each (NaN where absent or null).
  std::vector<double> metric(const std::string& key) const;
  void write_results(const std::string& json) const;
  void write_curves(const std::string& title) const;  // curves.png from metrics.jsonl

 private:
  std::filesystem::path dir_;
};

// Writes `text` to path.tmp, then renames it over path: a reader never sees half a file.
void write_file_atomically(const std::filesystem::path& path, const std::string& text);

}  // namespace mfd
