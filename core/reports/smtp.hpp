// Sending one message over SMTP with libcurl: smtp:// with STARTTLS (as email.starttls says) or
// smtps://, AUTH when email.username is set, the server's certificate always verified.
#pragma once

#include <string>

#include "config/config.hpp"
#include "util/error.hpp"

namespace mp::reports {

/// An SMTP transaction failed: the message names the server and what went wrong.
class EmailError : public Error {
 public:
  using Error::Error;
};

class SmtpSender {
 public:
  /// Reads the password file now. Throws ConfigError when email.url is empty or the password file
  /// cannot be read.
  explicit SmtpSender(const config::EmailConfig& config);

  /// Sends `message` (CRLF line ends) from the envelope address `from` to `recipient`; returns
  /// when the server has accepted it. Throws EmailError.
  void send(const std::string& from, const std::string& recipient,
            const std::string& message) const;

 private:
  config::EmailConfig config_;
  std::string password_;
};

}  // namespace mp::reports
