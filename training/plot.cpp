#include "training/plot.h"

#include <stb/stb_image_write.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>

#include "engine/error.h"

namespace mfd {

namespace {

// 5x7 glyphs, one byte per row, bit 4 the leftmost pixel.
const std::map<char, std::array<uint8_t, 7>>& font() {
  static const std::map<char, std::array<uint8_t, 7>> glyphs = {
      {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}}, {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
      {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}}, {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
      {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}}, {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
      {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}}, {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
      {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}}, {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
      {'A', {0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11}}, {'B', {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}},
      {'C', {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}}, {'D', {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}},
      {'E', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}}, {'F', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}},
      {'G', {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}}, {'H', {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
      {'I', {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}}, {'J', {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}},
      {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}}, {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}},
      {'M', {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}}, {'N', {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}},
      {'O', {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}}, {'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}},
      {'Q', {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}}, {'R', {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}},
      {'S', {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}}, {'T', {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
      {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}}, {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}},
      {'W', {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}}, {'X', {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}},
      {'Y', {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04}}, {'Z', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}},
      {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}}, {',', {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08}},
      {'-', {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}}, {'+', {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}},
      {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}}, {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}},
      {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}}, {':', {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}},
      {'/', {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}}, {'=', {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00}},
      {'_', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F}}, {'#', {0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A}},
  };
  return glyphs;
}

std::string tick(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", std::fabs(v) < 1e-12 ? 0.0 : v);
  return buf;
}

// Round tick values in [lo, hi], about `count` of them, a step of 1, 2 or 5 times a power of 10
// (at least `min_step`: whole epochs).
std::vector<double> nice_ticks(double lo, double hi, int count, double min_step = 0) {
  const double raw = std::max((hi - lo) / count, min_step), power = std::pow(10.0, std::floor(std::log10(raw)));
  double step = power;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * power >= raw) {
      step = m * power;
      break;
    }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + 1e-9 * step; t += step) ticks.push_back(t);
  return ticks;
}

}  // namespace

Rgb palette(int i) {
  static const Rgb colours[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
                                {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  return colours[((i % 10) + 10) % 10];
}

Canvas::Canvas(int width, int height, Rgb background) : w_(width), h_(height) {
  rgb_.resize(static_cast<size_t>(width) * height * 3);
  for (size_t i = 0; i < rgb_.size(); i += 3) rgb_[i] = background.r, rgb_[i + 1] = background.g, rgb_[i + 2] = background.b;
}

void Canvas::dot(int x, int y, Rgb c) {
  if (x < 0 || y < 0 || x >= w_ || y >= h_) return;
  uint8_t* p = &rgb_[(static_cast<size_t>(y) * w_ + x) * 3];
  p[0] = c.r, p[1] = c.g, p[2] = c.b;
}

void Canvas::line(int x0, int y0, int x1, int y1, Rgb c, bool dashed) {  // Bresenham
  int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
  for (int n = 0;; ++n) {
    if (!dashed || (n / 4) % 2 == 0) dot(x0, y0, c);
    if (x0 == x1 && y0 == y1) return;
    const int e2 = 2 * err;
    if (e2 >= dy) err += dy, x0 += sx;
    if (e2 <= dx) err += dx, y0 += sy;
  }
}

void Canvas::rect(int x, int y, int w, int h, Rgb c) {
  line(x, y, x + w - 1, y, c);
  line(x, y + h - 1, x + w - 1, y + h - 1, c);
  line(x, y, x, y + h - 1, c);
  line(x + w - 1, y, x + w - 1, y + h - 1, c);
}

void Canvas::fill_rect(int x, int y, int w, int h, Rgb c) {
  for (int j = y; j < y + h; ++j)
    for (int i = x; i < x + w; ++i) dot(i, j, c);
}

int Canvas::text(int x, int y, const std::string& s, Rgb c, int scale) {
  int pen = x;
  for (char ch : s) {
    auto it = font().find(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
    if (it != font().end())
      for (int row = 0; row < 7; ++row)
        for (int col = 0; col < 5; ++col)
          if (it->second[row] & (0x10 >> col)) fill_rect(pen + col * scale, y + row * scale, scale, scale, c);
    pen += 6 * scale;
  }
  return pen - x;
}

void Canvas::save_png(const std::string& path) const {
  MFD_CHECK(stbi_write_png(path.c_str(), w_, h_, 3, rgb_.data(), w_ * 3), "cannot write ", path);
}

void draw_chart(Canvas& c, int left, int top, int w, int h, const std::string& title, const std::string& x_label,
                const std::vector<Series>& series, double y_lo, double y_hi) {
  const Rgb black{0, 0, 0}, grey{120, 120, 120};
  double x_lo = INFINITY, x_hi = -INFINITY;
  const bool fixed_y = y_lo < y_hi;
  if (!fixed_y) y_lo = INFINITY, y_hi = -INFINITY;
  for (const Series& s : series)
    for (size_t i = 0; i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i]) || !std::isfinite(s.x[i])) continue;
      x_lo = std::min(x_lo, s.x[i]), x_hi = std::max(x_hi, s.x[i]);
      const double e = s.err.empty() || !std::isfinite(s.err[i]) ? 0.0 : s.err[i];
      if (!fixed_y) y_lo = std::min(y_lo, s.y[i] - e), y_hi = std::max(y_hi, s.y[i] + e);
    }
  if (!(x_lo < x_hi)) x_lo = std::isfinite(x_lo) ? x_lo - 1 : 0, x_hi = x_lo + 2;
  if (!(y_lo < y_hi)) y_lo = std::isfinite(y_lo) ? y_lo - 1 : 0, y_hi = y_lo + 2;
  const int x0 = left + 48, x1 = left + w - 10, y0 = top + h - 24, y1 = top + 16;
  c.text(left + 4, top + 2, title, black);
  c.line(x0, y0, x1, y0, black);
  c.line(x0, y0, x0, y1, black);
  c.text((x0 + x1 - Canvas::text_width(x_label)) / 2, y0 + 14, x_label, grey);
  auto px = [&](double x) { return x0 + static_cast<int>(std::lround((x1 - x0) * (x - x_lo) / (x_hi - x_lo))); };
  auto py = [&](double y) {
    return y0 - static_cast<int>(std::lround((y0 - y1) * std::clamp((y - y_lo) / (y_hi - y_lo), 0.0, 1.0)));
  };
  // Labelled ticks on both axes; whole steps on x when its values are (epochs).
  const bool whole_x = std::all_of(series.begin(), series.end(), [](const Series& s) {
    return std::all_of(s.x.begin(), s.x.end(), [](double x) { return !std::isfinite(x) || x == std::round(x); });
  });
  for (double t : nice_ticks(y_lo, y_hi, 4)) {
    c.line(x0 - 3, py(t), x0, py(t), black);
    c.text(x0 - Canvas::text_width(tick(t)) - 5, py(t) - 3, tick(t), grey);
  }
  for (double t : nice_ticks(x_lo, x_hi, 5, whole_x ? 1.0 : 0.0)) {
    c.line(px(t), y0, px(t), y0 + 3, black);
    c.text(px(t) - Canvas::text_width(tick(t)) / 2, y0 + 5, tick(t), grey);
  }
  int legend_y = y0 - 12 - 10 * static_cast<int>(std::count_if(series.begin(), series.end(),
                                                                  [](const Series& s) { return !s.label.empty(); }));
  for (const Series& s : series) {
    int lx = -1, ly = -1;
    for (size_t i = 0; i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i]) || !std::isfinite(s.x[i])) continue;
      const int x = px(s.x[i]), y = py(s.y[i]);
      if (lx >= 0) c.line(lx, ly, x, y, s.colour, s.dashed);
      c.fill_rect(x - 1, y - 1, 3, 3, s.colour);
      if (!s.err.empty() && std::isfinite(s.err[i]) && s.err[i] > 0) {
        const int top_y = py(s.y[i] + s.err[i]), bottom_y = py(s.y[i] - s.err[i]);
        c.line(x, top_y, x, bottom_y, s.colour);
        c.line(x - 3, top_y, x + 3, top_y, s.colour);
        c.line(x - 3, bottom_y, x + 3, bottom_y, s.colour);
      }
      lx = x, ly = y;
    }
    if (!s.label.empty()) {
      const int lx0 = x1 - Canvas::text_width(s.label) - 20;
      c.line(lx0, legend_y + 3, lx0 + 12, legend_y + 3, s.colour, s.dashed);
      c.text(lx0 + 16, legend_y, s.label, s.colour);
      legend_y += 10;
    }
  }
}

void write_curves_png(const std::string& path, const std::string& title, const std::vector<double>& train_loss,
                      const std::vector<double>& test_acc_percent) {
  Canvas c(640, 284);
  c.text((640 - Canvas::text_width(title)) / 2, 6, title, {0, 0, 0});
  std::vector<double> epochs(std::max(train_loss.size(), test_acc_percent.size()));
  for (size_t i = 0; i < epochs.size(); ++i) epochs[i] = static_cast<double>(i + 1);
  draw_chart(c, 0, 24, 320, 260, "training loss", "epoch", {{"", palette(0), epochs, train_loss, {}, false}});
  draw_chart(c, 320, 24, 320, 260, "test accuracy (%)", "epoch", {{"", palette(1), epochs, test_acc_percent, {}, false}},
             0, 100);
  c.save_png(path);
}

}  // namespace mfd
