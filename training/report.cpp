#include "training/report.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "engine/json.h"
#include "training/evaluate.h"
#include "training/plot.h"

namespace fs = std::filesystem;

namespace mfd {

namespace {

// The runs of one cell (one configuration up to its seed).
struct CellRuns {
  std::string model, dataset, paper_dataset, loss;
  double lambda = 0;
  std::vector<PlannedRun> runs;
};

std::vector<CellRuns> cells_of(const std::vector<PlannedRun>& plan) {
  std::vector<CellRuns> cells;
  for (const PlannedRun& r : plan) {
    const std::string loss = loss_kind_name(r.config.objective.kind);
    if (cells.empty() || cells.back().model != r.config.model || cells.back().paper_dataset != r.paper_dataset ||
        cells.back().loss != loss || cells.back().lambda != r.config.objective.lambda)
      cells.push_back({r.config.model, r.config.dataset, r.paper_dataset, loss, r.config.objective.lambda, {}});
    cells.back().runs.push_back(r);
  }
  return cells;
}

bool finished(const PlannedRun& r) { return run_state(r) == RunState::finished; }

// Final test accuracies (%) of the finished runs of a cell.
SeedStats accuracy(const CellRuns& cell) {
  std::vector<double> acc;
  for (const PlannedRun& r : cell.runs)
    if (finished(r)) acc.push_back(100 * read_json_file(r.dir + "/results.json").number_or("final_test_acc", NAN));
  return seed_stats(acc);
}

// Mean |correlation| per stage of the finished runs of a cell.
std::vector<SeedStats> correlations(const CellRuns& cell, const std::string& data_dir, size_t stages) {
  std::vector<std::vector<double>> per_stage(stages);
  for (const PlannedRun& r : cell.runs)
    if (finished(r)) {
      const Evaluation ev = cached_evaluation(r.dir, data_dir);
      for (size_t s = 0; s < stages && s < ev.mean_abs_corr.size(); ++s) per_stage[s].push_back(ev.mean_abs_corr[s]);
    }
  std::vector<SeedStats> out;
  for (const auto& v : per_stage) out.push_back(seed_stats(v));
  return out;
}

std::string fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// "76.42 ± 0.31 (3)", or "missing (0 of 3)".
std::string cell_text(const SeedStats& s, int expected, int digits) {
  if (s.n == 0) return "missing (0 of " + std::to_string(expected) + ")";
  std::string t = fixed(s.mean, digits);
  if (s.n > 1) t += " ± " + fixed(s.sd, digits);
  return t + " (" + std::to_string(s.n) + (s.n < expected ? " of " + std::to_string(expected) : "") + ")";
}

// "+2.76 ↑" / "-0.44 ↓", or "" when either side is missing.
std::string delta(double value, double base, int digits) {
  if (!std::isfinite(value) || !std::isfinite(base)) return "";
  const double d = value - base;
  return (d >= 0 ? "+" : "") + fixed(d, digits) + (d > 0 ? " ↑" : d < 0 ? " ↓" : "");
}

std::string paper_text(double v, int digits) { return std::isfinite(v) ? fixed(v, digits) : "—"; }

std::string dataset_label(const CellRuns& c) {
  return c.dataset == c.paper_dataset ? c.dataset : c.paper_dataset + " (" + c.dataset + " stands in)";
}

std::string header(const std::string& grid, const GridOptions& o, const std::vector<PlannedRun>& plan) {
  std::ostringstream s;
  s << "## " << grid << " (" << scale_name(o.scale) << " scale, runs in `" << o.runs_dir << "`, seeds";
  for (uint64_t seed : o.seeds) s << " " << seed;
  s << ")\n\n";
  if (o.scale == Scale::small)
    s << "**Small scale: a reduced recipe (width 0.125, 10 epochs on 2,000 training images, 1,000 test images, "
         "batch 64, lr 0.05 divided by 10 at epochs 5 and 8; Fashion-MNIST standing in for absent data sets). "
         "Its numbers are not comparable with the paper's, which are shown for reference only.**\n\n";
  std::set<std::string> folders, done;  // several cells may share a run at small scale
  for (const PlannedRun& r : plan)
    if (folders.insert(r.dir).second && finished(r)) done.insert(r.dir);
  s << "Cells: mean ± standard deviation over the seeds found (their number; \"of N\" when some are missing). "
    << done.size() << " of " << folders.size() << " runs finished.\n\n";
  return s.str();
}

std::string correlation_table(const std::vector<CellRuns>& cells, const GridOptions& o, bool with_mfd) {
  std::ostringstream s;
  const int n = static_cast<int>(o.seeds.size());
  const size_t stages = cells[0].runs.empty() ? 0 : model_entry(cells[0].runs[0].config.model).stages.size();
  std::vector<SeedStats> base = correlations(cells[0], o.data_dir, stages), mfd = correlations(cells[1], o.data_dir, stages);
  const std::vector<double> paper0 = paper_correlations(0), paper1 = paper_correlations(1);
  s << (with_mfd ? "Table III: mean |correlation| per stage, ResNet50 trained with Softmax + MFD (lambda 1)\n\n"
                 : "Table I: mean |correlation| per stage, ResNet50 trained with Softmax only\n\n");
  s << "| Stage |";
  for (size_t i = 0; i < stages; ++i) s << " " << i << " |";
  s << "\n|---|";
  for (size_t i = 0; i < stages; ++i) s << "---|";
  s << "\n| ours |";
  for (const SeedStats& st : with_mfd ? mfd : base) s << " " << cell_text(st, n, 3) << " |";
  if (with_mfd) {
    s << "\n| ours: difference to Softmax only |";
    for (size_t i = 0; i < stages; ++i) s << " " << delta(mfd[i].mean, base[i].mean, 3) << " |";
  }
  s << "\n| paper |";
  for (size_t i = 0; i < stages && i < paper0.size(); ++i) s << " " << fixed(with_mfd ? paper1[i] : paper0[i], 3) << " |";
  if (with_mfd) {
    s << "\n| paper: difference |";
    for (size_t i = 0; i < stages && i < paper0.size(); ++i) s << " " << delta(paper1[i], paper0[i], 3) << " |";
  }
  s << "\n";
  return s.str();
}

}  // namespace

SeedStats seed_stats(const std::vector<double>& values) {
  SeedStats s;
  double sum = 0, sq = 0;
  for (double v : values)
    if (std::isfinite(v)) sum += v, ++s.n;
  if (s.n == 0) return s;
  s.mean = sum / s.n;
  for (double v : values)
    if (std::isfinite(v)) sq += (v - s.mean) * (v - s.mean);
  s.sd = s.n > 1 ? std::sqrt(sq / (s.n - 1)) : 0.0;
  return s;
}

std::string render_report(const std::string& grid, const GridOptions& o) {
  const std::vector<PlannedRun> plan = plan_grid(grid, o);
  const std::vector<CellRuns> cells = cells_of(plan);
  const int n = static_cast<int>(o.seeds.size());
  std::ostringstream s;
  s << header(grid, o, plan);
  if (grid == "table1" || grid == "table3") {
    s << correlation_table(cells, o, grid == "table3");
    s << "\nTest accuracy (%): Softmax only " << cell_text(accuracy(cells[0]), n, 2) << ", + MFD "
      << cell_text(accuracy(cells[1]), n, 2) << ".\n";
  } else if (grid == "table2") {
    s << "Table II: test accuracy (%) against lg(lambda), ResNet50 on " << dataset_label(cells[0]) << "\n\n";
    s << "| lg(lambda) | Softmax only |";
    for (size_t i = 1; i < cells.size(); ++i) s << " " << fixed(std::log10(cells[i].lambda), 0) << " |";
    s << "\n|---|---|";
    for (size_t i = 1; i < cells.size(); ++i) s << "---|";
    const SeedStats base = accuracy(cells[0]);
    s << "\n| ours |";
    for (const CellRuns& c : cells) s << " " << cell_text(accuracy(c), n, 2) << " |";
    s << "\n| ours: difference |  |";
    for (size_t i = 1; i < cells.size(); ++i) s << " " << delta(accuracy(cells[i]).mean, base.mean, 2) << " |";
    s << "\n| paper |";
    for (const CellRuns& c : cells) s << " " << paper_text(paper_accuracy(c.model, c.paper_dataset, c.loss, c.lambda), 2) << " |";
    s << "\n| paper: difference |  |";
    const double paper_base = paper_accuracy(cells[0].model, cells[0].paper_dataset, "softmax", 0);
    for (size_t i = 1; i < cells.size(); ++i)
      s << " " << delta(paper_accuracy(cells[i].model, cells[i].paper_dataset, "softmax", cells[i].lambda), paper_base, 2) << " |";
    s << "\n";
  } else {  // tables IV-VI: pairs of cells, without and with MFD
    const char* title = grid == "table4"   ? "Table IV: test accuracy (%), ResNet50, Softmax vs Softmax + MFD (lambda 1)"
                        : grid == "table5" ? "Table V: test accuracy (%) of other networks, Softmax vs Softmax + MFD (lambda 1)"
                                           : "Table VI: test accuracy (%), ResNet50 on FaceScrub, face-recognition losses without and with MFD (lambda 1)";
    s << title << "\n\n| Network | Data set | Loss | ours: without MFD | ours: + MFD | ours: difference | paper: without | paper: + MFD | paper: difference |\n"
      << "|---|---|---|---|---|---|---|---|---|\n";
    for (size_t i = 0; i + 1 < cells.size(); i += 2) {
      const CellRuns &a = cells[i], &b = cells[i + 1];
      const SeedStats sa = accuracy(a), sb = accuracy(b);
      const double pa = paper_accuracy(a.model, a.paper_dataset, a.loss, 0), pb = paper_accuracy(b.model, b.paper_dataset, b.loss, 1);
      s << "| " << a.model << " | " << dataset_label(a) << " | " << a.loss << " | " << cell_text(sa, n, 2) << " | "
        << cell_text(sb, n, 2) << " | " << delta(sb.mean, sa.mean, 2) << " | " << paper_text(pa, 2) << " | "
        << paper_text(pb, 2) << " | " << delta(pb, pa, 2) << " |\n";
    }
  }
  return s.str();
}

void write_report_plot(const std::string& grid, const GridOptions& o, const std::string& png_path) {
  const std::vector<CellRuns> cells = cells_of(plan_grid(grid, o));
  if (grid == "table2") {
    Canvas c(480, 320);
    Series ours{"mean over seeds", palette(1), {}, {}, {}, false}, base{"softmax only", palette(0), {}, {}, {}, true};
    const SeedStats b = accuracy(cells[0]);
    for (size_t i = 1; i < cells.size(); ++i) {
      const SeedStats st = accuracy(cells[i]);
      const double lg = std::log10(cells[i].lambda);
      ours.x.push_back(lg), ours.y.push_back(st.mean), ours.err.push_back(st.sd);
      base.x.push_back(lg), base.y.push_back(b.mean);
    }
    draw_chart(c, 0, 0, 480, 320, "test accuracy (%) against lg(lambda)", "lg(lambda)", {ours, base});
    c.save_png(png_path);
    return;
  }
  // One panel per pair of cells (lambda 0 and the next cell), test accuracy per epoch.
  std::vector<std::pair<const CellRuns*, const CellRuns*>> pairs;
  std::set<std::string> drawn;  // a stand-in data set makes several cells one run: drawn once
  for (size_t i = 0; i + 1 < cells.size(); i += 2)
    if (drawn.insert(cells[i].runs.front().dir).second) pairs.push_back({&cells[i], &cells[i + 1]});
  const int columns = std::min<int>(4, static_cast<int>(pairs.size())), rows = (static_cast<int>(pairs.size()) + columns - 1) / columns;
  Canvas c(columns * 320, rows * 240);
  for (size_t p = 0; p < pairs.size(); ++p) {
    std::vector<Series> series;
    int k = 0;
    for (const CellRuns* cell : {pairs[p].first, pairs[p].second}) {
      std::vector<std::vector<double>> per_epoch;
      for (const PlannedRun& r : cell->runs) {
        std::ifstream in(r.dir + "/metrics.jsonl");
        size_t e = 0;
        for (std::string line; std::getline(in, line); ++e) {
          if (per_epoch.size() <= e) per_epoch.emplace_back();
          per_epoch[e].push_back(100 * parse_json(line, r.dir + "/metrics.jsonl").number_or("test_acc", NAN));
        }
      }
      Series s{cell->lambda == 0 ? "softmax" : "+ mfd", palette(k++), {}, {}, {}, false};
      if (cell->loss != "softmax") s.label = cell->loss + (cell->lambda == 0 ? "" : " + mfd");
      for (size_t e = 0; e < per_epoch.size(); ++e) s.x.push_back(static_cast<double>(e + 1)), s.y.push_back(seed_stats(per_epoch[e]).mean);
      series.push_back(s);
    }
    const CellRuns& a = *pairs[p].first;
    draw_chart(c, static_cast<int>(p % columns) * 320, static_cast<int>(p / columns) * 240, 320, 240,
               a.model + " " + a.dataset + " test acc %", "epoch", series);
  }
  c.save_png(png_path);
}

}  // namespace mfd
