// PNG figures without a plotting library: an RGB canvas with lines, rectangles and a 5x7 bitmap
// font (upper case, digits and a little punctuation), line charts with labelled axes and a
// legend, and curves.png of a run.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mfd {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};
// Distinguishable colours for series and groups (matplotlib's tab10), cycled.
Rgb palette(int i);

class Canvas {
 public:
  Canvas(int width, int height, Rgb background = {255, 255, 255});
  int width() const { return w_; }
  int height() const { return h_; }
  void dot(int x, int y, Rgb c);
  void line(int x0, int y0, int x1, int y1, Rgb c, bool dashed = false);
  void rect(int x, int y, int w, int h, Rgb c);       // outline
  void fill_rect(int x, int y, int w, int h, Rgb c);
  // Text in the 5x7 font (lower case drawn as upper case), `scale` pixels per font pixel; returns
  // the width drawn.
  int text(int x, int y, const std::string& s, Rgb c, int scale = 1);
  static int text_width(const std::string& s, int scale = 1) { return static_cast<int>(s.size()) * 6 * scale; }
  // Fails with an Error naming the path when it cannot be written.
  void save_png(const std::string& path) const;

 private:
  int w_, h_;
  std::vector<uint8_t> rgb_;
};

struct Series {
  std::string label;
  Rgb colour;
  std::vector<double> x, y;
  std::vector<double> err;  // optional error bars (same length as y)
  bool dashed = false;
};

// A chart in the box (left, top, w, h): title, axes with labelled ticks, the series (non-finite
// points skipped) and a legend (bottom right). x and y ranges are taken from the data unless y_lo < y_hi.
void draw_chart(Canvas& canvas, int left, int top, int w, int h, const std::string& title,
                const std::string& x_label, const std::vector<Series>& series, double y_lo = 0,
                double y_hi = 0);

// curves.png of a run: its title (the run's name) above training loss (left) and test accuracy
// in percent (right) per epoch.
void write_curves_png(const std::string& path, const std::string& title, const std::vector<double>& train_loss,
                      const std::vector<double>& test_acc_percent);

}  // namespace mfd
