// One option table for every program (train, evaluate, quickstart, reproduce, report, analyze,
// mfd_info): `--name VALUE`, `--name=VALUE` and switches, positional arguments, `--help`, and one
// rule for errors: bad usage names the bad word and exits 2, any other failure prints one line
// and exits 1, `--help` prints the usage and exits 0.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "engine/error.h"

namespace mfd {

// A mistake in the command line: exit code 2.
struct UsageError : Error {
  using Error::Error;
};

struct Flag {
  std::string name;        // without the leading "--"
  std::string value_name;  // "N", "DIR", ...; empty for a switch (which receives "true")
  std::function<void(const std::string&)> apply;
  std::string help;
  std::string default_value;  // shown by --help; empty: none
};

struct CommandLine {
  std::string program;      // "train"
  std::string arguments;    // the positional arguments in the usage line: "MODEL DATASET"
  std::string description;  // lines printed after the usage line
  size_t min_positional = 0, max_positional = 0;  // kAny: no upper bound
  std::vector<Flag> flags;
  static constexpr size_t kAny = std::numeric_limits<size_t>::max();

  std::string usage() const;
  // Applies the flags in order and returns the positional arguments. Throws UsageError naming the
  // unknown flag, the flag without a value, or the wrong number of positional arguments.
  std::vector<std::string> parse(int argc, char** argv) const;
};

// A program's main: first settles the CPU runtime (engine/cpu_runtime.h: the OpenBLAS kernels and
// OpenMP's waiting, which may run the program again once); --help or -h anywhere prints the usage
// (exit 0); otherwise parses, then runs
// body(positional). A UsageError prints "program: message" and a pointer to --help (exit 2); any
// other exception prints "program: message" (exit 1). Nothing uncaught reaches the user.
int run_program(const CommandLine& command_line, int argc, char** argv,
                const std::function<int(const std::vector<std::string>&)>& body);

// Values of flags, each failing with a UsageError that names the flag and the value.
double parse_double(const std::string& flag, const std::string& value);
int64_t parse_int(const std::string& flag, const std::string& value);
std::vector<int> parse_ints(const std::string& flag, const std::string& value);  // "0,1,2"
bool parse_bool(const std::string& flag, const std::string& value);              // true/false/1/0
// "a, b, c", for messages that list the valid choices.
std::string join(const std::vector<std::string>& items, const std::string& separator = ", ");

}  // namespace mfd
