// A child process on a pseudo-terminal, for testing what mpctl does at a prompt.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace mp::test {

/// Runs argv on a new pseudo-terminal (its controlling terminal, stdin, stdout and stderr), so
/// a test can answer prompts, press Ctrl-C, and look at the terminal's modes afterwards.
class PtyProcess {
 public:
  /// Starts argv[0]; throws std::runtime_error when no terminal or process can be made.
  explicit PtyProcess(const std::vector<std::string>& argv);
  ~PtyProcess();
  PtyProcess(const PtyProcess&) = delete;
  PtyProcess& operator=(const PtyProcess&) = delete;

  /// Reads the terminal until its output holds `text`; false when it did not in time.
  bool waitFor(std::string_view text, std::chrono::milliseconds timeout);
  /// Types `text` (a "\x03" is Ctrl-C: the terminal turns it into SIGINT).
  void write(std::string_view text);
  /// Waits for the exit; the exit code, 128 + signal when killed, -1 on timeout.
  int wait(std::chrono::milliseconds timeout);
  /// Everything the process wrote to the terminal so far.
  const std::string& output() const { return output_; }
  /// True while the terminal echoes what is typed (its ECHO mode), e.g. after a password prompt.
  bool echoing() const;

 private:
  void drain(std::chrono::milliseconds timeout);

  int master_ = -1;
  int slave_ = -1;  // kept open so the terminal's modes outlive the child
  int pid_ = -1;
  int exitCode_ = -1;
  std::string output_;
};

}  // namespace mp::test
