// bin/report GRID [RUNS_DIR] [options]: one of the paper's tables rendered as Markdown from the
// run folders of its grid (training/report.h), and optionally its figure as a PNG.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "training/command_line.h"
#include "training/report.h"

int main(int argc, char** argv) {
  mfd::GridOptions options;
  options.data_dir = "";
  std::string out, plot;
  mfd::CommandLine cl;
  cl.program = "report";
  cl.arguments = "GRID [RUNS_DIR]";
  cl.description = "  GRID: " + mfd::join(mfd::grid_names()) + "\n  RUNS_DIR: the run folders (as --runs)";
  cl.min_positional = 1;
  cl.max_positional = 2;
  cl.flags = mfd::grid_flags(options);
  for (mfd::Flag& f : cl.flags)
    if (f.name == "data-dir") f.help = "the data sets, for tables I and III", f.default_value = "each run's own";
  cl.flags.push_back({"out", "FILE.md", [&](const std::string& v) { out = v; }, "write the table there too", ""});
  cl.flags.push_back({"plot", "FILE.png", [&](const std::string& v) { plot = v; }, "write the grid's figure", ""});
  return mfd::run_program(cl, argc, argv, [&](const std::vector<std::string>& positional) {
    const std::string& grid = positional[0];
    const std::vector<std::string> grids = mfd::grid_names();
    if (std::find(grids.begin(), grids.end(), grid) == grids.end())
      throw mfd::UsageError("unknown grid '" + grid + "' (valid: " + mfd::join(grids) + ")");
    if (positional.size() == 2) options.runs_dir = positional[1];
    namespace fs = std::filesystem;
    MFD_CHECK(!fs::exists(options.runs_dir) || fs::is_directory(options.runs_dir), options.runs_dir,
              " is not a folder: give the folder bin/reproduce trained the grid in (default runs/)");
    // The plan's data folder decides the stand-in data sets at small scale: the runs' own.
    mfd::GridOptions planning = options;
    if (planning.data_dir.empty()) planning.data_dir = "data";
    const std::string table = mfd::render_report(grid, planning);
    std::printf("%s", table.c_str());
    if (!out.empty()) {
      std::ofstream f(out);
      MFD_CHECK(f << table, "cannot write ", out);
    }
    if (!plot.empty()) mfd::write_report_plot(grid, planning, plot);
    return 0;
  });
}
