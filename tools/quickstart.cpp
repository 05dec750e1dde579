// quickstart: trains SmallCnn on the real Fashion-MNIST data on the CPU and prints the test
// accuracy. `make quickstart` runs it; the end-to-end test runs it with --epochs 2.
//   quickstart [--epochs 2] [--batch 32] [--lr 0.02] [--width 24] [--limit-train N]
//              [--data-dir /usr/share/datasets/fashion-mnist] [--seed 0]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <type_traits>

#include "data/dataset.h"
#include "engine/autograd.h"
#include "engine/optimizer.h"
#include "models/small_cnn.h"
#include "training/command_line.h"

using namespace mfd;

namespace {

struct Options {
  int epochs = 2, batch = 32, width = 24;
  double lr = 0.02;
  int64_t limit_train = 0;
  uint64_t seed = 0;
  std::string data_dir = fashion_mnist_default_dir();
};

CommandLine command_line(Options& o) {
  CommandLine cl;
  cl.program = "quickstart";
  cl.description = "Trains a small CNN on the real Fashion-MNIST data on the CPU and prints the test accuracy.";
  auto integer = [](const char* flag, auto& field) {
    return [flag, &field](const std::string& v) { field = static_cast<std::decay_t<decltype(field)>>(parse_int(flag, v)); };
  };
  cl.flags = {
      {"epochs", "N", integer("--epochs", o.epochs), "epochs", std::to_string(o.epochs)},
      {"batch", "N", integer("--batch", o.batch), "batch size", std::to_string(o.batch)},
      {"lr", "X", [&o](const std::string& v) { o.lr = parse_double("--lr", v); }, "initial rate (cosine to 0)", "0.02"},
      {"width", "N", integer("--width", o.width), "channels of the first convolution", std::to_string(o.width)},
      {"limit-train", "N", integer("--limit-train", o.limit_train), "use the first N training images (0: all)", "0"},
      {"data-dir", "DIR", [&o](const std::string& v) { o.data_dir = v; }, "Fashion-MNIST's IDX files", o.data_dir},
      {"seed", "N", integer("--seed", o.seed), "seed", "0"},
  };
  return cl;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double evaluate(SmallCnn& model, const ImageDataset& test, int batch) {
  NoGradGuard no_grad;
  model.eval();
  std::vector<int64_t> order(test.n);
  std::iota(order.begin(), order.end(), 0);
  int64_t correct = 0;
  for (int64_t start = 0; start < test.n; start += batch) {
    const int64_t count = std::min<int64_t>(batch, test.n - start);
    Tensor x, y;
    make_batch(test, order, start, count, Device::cpu, x, y);
    Tensor out = model.forward(x);
    const float* logits = out.data<float>();
    const int32_t* labels = y.data<int32_t>();
    for (int64_t i = 0; i < count; ++i) {
      const float* row = logits + i * test.num_classes;
      correct += std::max_element(row, row + test.num_classes) - row == labels[i];
    }
  }
  model.train();
  return static_cast<double>(correct) / static_cast<double>(test.n);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  return run_program(command_line(o), argc, argv, [&](const std::vector<std::string>&) {
    if (o.epochs < 1 || o.batch < 2 || o.width < 1) throw UsageError("needs --epochs >= 1, --batch >= 2 and --width >= 1");
    ImageDataset train = load_fashion_mnist(o.data_dir, true);
    ImageDataset test = load_fashion_mnist(o.data_dir, false);
    train.truncate(o.limit_train);
    std::printf("Fashion-MNIST: %lld training, %lld test images; SmallCnn width %d; %d epochs, batch %d, "
                "SGD lr %g (cosine to 0) momentum 0.9 wd 5e-4; CPU\n",
                static_cast<long long>(train.n), static_cast<long long>(test.n), o.width, o.epochs,
                o.batch, o.lr);
    Generator gen(o.seed);
    SmallCnn model(1, 28, 10, gen, o.width);
    SGD opt(model.named_parameters(), o.lr, 0.9, 5e-4);
    // Cosine annealing to zero over all steps: the best final accuracy for a short budget.
    const int64_t total_steps = o.epochs * ((train.n + o.batch - 1) / o.batch);
    int64_t global_step = 0;
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<int64_t> order(train.n);
    for (int epoch = 0; epoch < o.epochs; ++epoch) {
      std::iota(order.begin(), order.end(), 0);
      for (int64_t i = train.n - 1; i > 0; --i) std::swap(order[i], order[gen.below(i + 1)]);
      double loss_sum = 0.0;
      int64_t steps = 0, batches = (train.n + o.batch - 1) / o.batch;
      for (int64_t start = 0; start < train.n; start += o.batch) {
        const int64_t count = std::min<int64_t>(o.batch, train.n - start);
        if (count < 2) break;  // BatchNorm needs two samples
        Tensor x, y;
        make_batch(train, order, start, count, Device::cpu, x, y);
        opt.set_lr(0.5 * o.lr * (1.0 + std::cos(M_PI * global_step++ / total_steps)));
        model.zero_grad();
        Tensor loss = cross_entropy(model.forward(x), y);
        backward(loss);
        opt.step();
        loss_sum += loss.item();
        if (++steps % 100 == 0 || steps == batches)
          std::printf("epoch %d  step %lld/%lld  loss %.4f  %.0f img/s\n", epoch + 1,
                      static_cast<long long>(steps), static_cast<long long>(batches), loss_sum / steps,
                      (epoch * train.n + start + count) / seconds_since(t0));
        std::fflush(stdout);
      }
      const double acc = evaluate(model, test, 256);
      std::printf("epoch %d done: train loss %.4f, test accuracy %.2f%%, %.1f s\n", epoch + 1,
                  loss_sum / steps, 100.0 * acc, seconds_since(t0));
    }
    // The sum of all parameters, to compare runs: the same seed must give the same bits.
    double checksum = 0.0;
    for (const Tensor& p : model.parameters())
      for (double v : p.to_vector()) checksum += v;
    std::printf("parameter checksum: %.17g\n", checksum);
    std::printf("test accuracy: %.2f%%\n", 100.0 * evaluate(model, test, 256));
    return 0;
  });
}
