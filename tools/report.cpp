// bin/report GRID [RUNS_DIR] [options]: one of the paper's tables rendered as Markdown from the
// run folders of its grid (training/report.h), and optionally its figure as a PNG.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "training/report.h"

namespace {

const char* kUsage =
    "usage: report GRID [RUNS_DIR] [options]    GRID: table1 table2 table3 table4 table5 table6\n"
    "  --runs DIR        the run folders (default runs; also the second positional argument)\n"
    "  --scale full|small  which recipe's runs (default full)\n"
    "  --data-dir DIR    the data sets, for tables I and III (default: each run's own)\n"
    "  --seeds 0,1,2     the seeds expected in every cell (default 0,1,2)\n"
    "  --out FILE.md     write the table there too\n"
    "  --plot FILE.png   write the grid's figure\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::printf("%s", kUsage);
    return argc < 2 ? 2 : 0;
  }
  const std::string grid = argv[1];
  mfd::GridOptions options;
  options.data_dir = "";
  std::string out, plot;
  try {
    for (int i = 2; i < argc; ++i) {
      const std::string flag = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw mfd::Error(flag + " needs a value");
        return argv[++i];
      };
      if (flag.rfind("--", 0) != 0 && i == 2) options.runs_dir = flag;
      else if (mfd::apply_grid_option(flag, value, options)) continue;
      else if (flag == "--out") out = value();
      else if (flag == "--plot") plot = value();
      else throw mfd::Error("unknown option '" + flag + "'");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "report: %s\n%s", e.what(), kUsage);
    return 2;
  }
  try {
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
  } catch (const mfd::Error& e) {
    std::fprintf(stderr, "report: %s\n", e.what());
    return 1;
  }
  return 0;
}
