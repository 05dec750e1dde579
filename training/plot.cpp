#include "training/plot.h"

#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "engine/error.h"

namespace mfd {

namespace {

constexpr int kPanelW = 320, kPanelH = 240, kMargin = 20;

struct Canvas {
  int w, h;
  std::vector<uint8_t> rgb;
  Canvas(int w_, int h_) : w(w_), h(h_), rgb(static_cast<size_t>(w_) * h_ * 3, 255) {}
  void dot(int x, int y, const uint8_t c[3]) {
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    for (int k = 0; k < 3; ++k) rgb[(static_cast<size_t>(y) * w + x) * 3 + k] = c[k];
  }
  void line(int x0, int y0, int x1, int y1, const uint8_t c[3]) {  // Bresenham
    int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
    for (;;) {
      dot(x0, y0, c);
      if (x0 == x1 && y0 == y1) return;
      const int e2 = 2 * err;
      if (e2 >= dy) err += dy, x0 += sx;
      if (e2 <= dx) err += dx, y0 += sy;
    }
  }
};

// One panel: axes, and the series scaled to [0, top] vertically over its epochs.
void panel(Canvas& c, int left, const std::vector<double>& v, double top, const uint8_t colour[3]) {
  const uint8_t black[3] = {0, 0, 0};
  const int x0 = left + kMargin, y0 = kPanelH - kMargin, x1 = left + kPanelW - kMargin, y1 = kMargin;
  c.line(x0, y0, x1, y0, black);
  c.line(x0, y0, x0, y1, black);
  int px = -1, py = -1;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) continue;
    const int x = x0 + static_cast<int>(v.size() > 1 ? (x1 - x0) * i / (v.size() - 1) : 0);
    const int y = y0 - static_cast<int>(std::lround((y0 - y1) * std::clamp(v[i] / top, 0.0, 1.0)));
    if (px >= 0) c.line(px, py, x, y, colour);
    for (int d = -1; d <= 1; ++d) c.dot(x + d, y, colour), c.dot(x, y + d, colour);
    px = x;
    py = y;
  }
}

}  // namespace

void write_curves_png(const std::string& path, const std::vector<double>& train_loss, const std::vector<double>& test_acc) {
  Canvas c(2 * kPanelW, kPanelH);
  double top = 0.0;
  for (double v : train_loss)
    if (std::isfinite(v)) top = std::max(top, v);
  const uint8_t blue[3] = {31, 119, 180}, orange[3] = {255, 127, 14};
  panel(c, 0, train_loss, top > 0 ? top : 1.0, blue);
  panel(c, kPanelW, test_acc, 1.0, orange);
  MFD_CHECK(stbi_write_png(path.c_str(), c.w, c.h, 3, c.rgb.data(), c.w * 3), "cannot write ", path);
}

}  // namespace mfd
