// Terminal prompts: echo is turned off with termios while a password is typed.
#include "prompt.hpp"

#include <termios.h>
#include <unistd.h>

#include <iostream>

#include "util/error.hpp"

namespace mp::cli {
namespace {

std::string promptHidden(const std::string& prompt) {
  std::cerr << prompt << std::flush;
  termios old{};
  tcgetattr(STDIN_FILENO, &old);
  termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  std::string line;
  std::getline(std::cin, line);
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
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
