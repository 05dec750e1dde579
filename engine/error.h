// Errors for the user: one exception type, and a check macro that says what was expected.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace mfd {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Builds a message from stream-able pieces: fail("conv2d: expected ", 4, " dims, got ", n).
template <typename... Args> [[noreturn]] void fail(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  throw Error(os.str());
}

}  // namespace mfd

#define MFD_CHECK(cond, ...)            \
  do {                                  \
    if (!(cond)) ::mfd::fail(__VA_ARGS__); \
  } while (0)
