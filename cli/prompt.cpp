// Terminal prompts: echo is turned off with termios while a password is typed, and back on
// however the prompt ends (Enter, end of input, Ctrl-C, a kill).
#include "prompt.hpp"

#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <iostream>

#include "util/error.hpp"

namespace mp::cli {
namespace {

// The terminal's modes from before a hidden prompt, for the signal handler below.
termios gSaved{};
volatile std::sig_atomic_t gHidden = 0;
constexpr std::array<int, 4> kSignals = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// Ctrl-C (or a kill) while echo is off must not leave the user's shell without echo: put the
// terminal back, then die of the same signal as the default action would (tcsetattr, signal and
// raise are async-signal-safe).
extern "C" void restoreTerminal(int sig) {
  if (gHidden != 0) tcsetattr(STDIN_FILENO, TCSAFLUSH, &gSaved);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

// Echo off for one line; the terminal is restored on return, on a throw and on a signal.
class HiddenInput {
 public:
  HiddenInput() {
    if (tcgetattr(STDIN_FILENO, &gSaved) != 0) return;
    struct sigaction act {};
    act.sa_handler = restoreTerminal;
    sigemptyset(&act.sa_mask);
    for (std::size_t i = 0; i < kSignals.size(); ++i) sigaction(kSignals[i], &act, &previous_[i]);
    termios quiet = gSaved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    gHidden = 1;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  ~HiddenInput() {
    if (gHidden == 0) return;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &gSaved);
    gHidden = 0;
    for (std::size_t i = 0; i < kSignals.size(); ++i)
      sigaction(kSignals[i], &previous_[i], nullptr);
  }
  HiddenInput(const HiddenInput&) = delete;
  HiddenInput& operator=(const HiddenInput&) = delete;

 private:
  std::array<struct sigaction, kSignals.size()> previous_{};
};

std::string promptHidden(const std::string& prompt) {
  std::string line;
  {
    // Echo goes off before the prompt shows, so nothing typed at it is ever echoed.
    HiddenInput hidden;
    std::cerr << prompt << std::flush;
    std::getline(std::cin, line);
  }
  std::cerr << "\n";
  return line;
}

}  // namespace

std::string readPassword(bool fromStdin, bool twice) {
  if (fromStdin) {
    std::string line;
    if (!std::getline(std::cin, line)) throw InvalidInput("password", "no password on stdin");
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }
  if (isatty(STDIN_FILENO) == 0) {
    throw InvalidInput("password",
                       "stdin is not a terminal: pass --password-stdin and the password on stdin");
  }
  std::string password = promptHidden("Password: ");
  if (twice && promptHidden("Password again: ") != password) {
    throw InvalidInput("password", "the two passwords differ");
  }
  return password;
}

bool confirm(const std::string& question) {
  if (isatty(STDIN_FILENO) == 0) {
    throw InvalidInput("yes", "stdin is not a terminal: pass --yes to confirm");
  }
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  std::getline(std::cin, answer);
  return answer == "y" || answer == "Y" || answer == "yes";
}

}  // namespace mp::cli
