#include "training/command_line.h"

#include "engine/cpu_runtime.h"
#include "engine/world.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <sstream>

namespace mfd {

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string s;
  for (const std::string& x : items) s += (s.empty() ? "" : separator) + x;
  return s;
}

std::string CommandLine::usage() const {
  std::ostringstream os;
  os << "usage: " << program << (arguments.empty() ? "" : " " + arguments) << (flags.empty() ? "" : " [options]") << "\n";
  if (!description.empty()) os << description << (description.back() == '\n' ? "" : "\n");
  if (!flags.empty()) os << "options" << (std::any_of(flags.begin(), flags.end(), [](const Flag& f) { return !f.default_value.empty(); }) ? " (default)" : "") << ":\n";
  for (const Flag& f : flags) {
    std::string left = "  --" + f.name + (f.value_name.empty() ? "" : " " + f.value_name);
    if (left.size() < 24) left.append(24 - left.size(), ' ');
    os << left << "  " << f.help << (f.default_value.empty() ? "" : " (" + f.default_value + ")") << "\n";
  }
  os << "  --help                  this text\n";
  return os.str();
}

std::vector<std::string> CommandLine::parse(int argc, char** argv) const {
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.size() < 3 || arg.rfind("--", 0) != 0) {
      positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2), value;
    const size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const Flag* flag = nullptr;
    for (const Flag& f : flags)
      if (f.name == name) flag = &f;
    if (!flag) {
      std::vector<std::string> names;
      for (const Flag& f : flags) names.push_back("--" + f.name);
      throw UsageError("unknown flag --" + name + " (valid: " + (names.empty() ? "none but --help" : join(names)) + ")");
    }
    if (flag->value_name.empty()) {
      if (eq == std::string::npos) value = "true";
    } else if (eq == std::string::npos) {
      if (i + 1 >= argc) throw UsageError("--" + name + " needs a value (" + flag->value_name + ")");
      value = argv[++i];
    }
    flag->apply(value);
  }
  if (positional.size() < min_positional || positional.size() > max_positional) {
    std::string got;
    for (const std::string& p : positional) got += " '" + p + "'";
    throw UsageError("expected " + (arguments.empty() ? std::string("no arguments") : arguments) + ", got " +
                     std::to_string(positional.size()) + " argument(s)" + (got.empty() ? "" : ":" + got));
  }
  return positional;
}

namespace {

// Ends a failed program: alone, the exit code; in a run of several processes every process is
// stopped at once (the others may be waiting for this one in a collective), naming this one.
int failed(const char* program, int code, const std::string& message) {
  std::fprintf(stderr, "%s%s: %s\n", rank_prefix().c_str(), program, message.c_str());
  if (world().size > 1) abort_world(code);
  return code;
}

}  // namespace

int run_program(const CommandLine& command_line, int argc, char** argv,
                const std::function<int(const std::vector<std::string>&)>& body) {
  configure_cpu_runtime(argc, argv);
  const char* program = command_line.program.c_str();
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::printf("%s", command_line.usage().c_str());
      return 0;
    }
  try {
    join_world();
    // In a run of several processes, rank 0 alone prints; the others' errors go to stderr.
    if (world().rank > 0 && !std::freopen("/dev/null", "w", stdout)) std::fclose(stdout);
    const int code = body(command_line.parse(argc, argv));
    leave_world();
    return code;
  } catch (const UsageError& e) {
    return failed(program, 2, e.what() + std::string("\n(") + program + " --help lists the arguments and options)");
  } catch (const std::bad_alloc&) {
    return failed(program, 1, "out of host memory: lower --batch or --workers, or use a smaller --width");
  } catch (const std::exception& e) {
    return failed(program, 1, e.what());
  }
}

double parse_double(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0') throw UsageError("malformed value '" + v + "' for " + flag + " (a number)");
  return x;
}

int64_t parse_int(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0') throw UsageError("malformed value '" + v + "' for " + flag + " (an integer)");
  return x;
}

std::vector<int> parse_ints(const std::string& flag, const std::string& v) {
  std::vector<int> out;
  std::stringstream ss(v);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(static_cast<int>(parse_int(flag, item)));
  if (out.empty()) throw UsageError("malformed value '" + v + "' for " + flag + " (integers separated by commas)");
  return out;
}

bool parse_bool(const std::string& flag, const std::string& v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  throw UsageError("malformed value '" + v + "' for " + flag + " (true or false)");
}

}  // namespace mfd
