// Exception hierarchy for failures that abort an operation.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace mp {

/// Base of every MetricPulse exception.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A configuration file or value is unusable.
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// PostgreSQL failed: connection, statement or transaction.
class DbError : public Error {
 public:
  using Error::Error;
  DbError(const std::string& message, std::string sqlstate)
      : Error(message), sqlstate_(std::move(sqlstate)) {}
  /// The five-character SQLSTATE of the failure, empty when none was reported.
  const std::string& sqlstate() const noexcept { return sqlstate_; }

 private:
  std::string sqlstate_;
};

/// Redis failed: connection, protocol or an error reply.
class RedisError : public Error {
 public:
  using Error::Error;
};

/// Input that breaks a rule (HTTP 400 invalid_request, mpctl exit 2); names the field.
class InvalidInput : public Error {
 public:
  InvalidInput(std::string field, const std::string& message)
      : Error(message), field_(std::move(field)) {}
  /// The request field or option at fault.
  const std::string& field() const noexcept { return field_; }

 private:
  std::string field_;
};

/// The change conflicts with existing data (HTTP 409, mpctl exit 7); `code` is the API error code.
class Conflict : public Error {
 public:
  Conflict(std::string code, const std::string& message) : Error(message), code_(std::move(code)) {}
  const std::string& code() const noexcept { return code_; }

 private:
  std::string code_;
};

/// The named object does not exist, or is not the caller's (HTTP 404, mpctl exit 6).
class NotFound : public Error {
 public:
  using Error::Error;
};

/// A request refused with a specific HTTP status and API error code (tracking: unknown_website,
/// domain_mismatch, rate_limited, unavailable…); retryAfter > 0 adds a Retry-After header.
class Rejected : public Error {
 public:
  Rejected(int status, std::string code, const std::string& message, long retryAfter = 0)
      : Error(message), status_(status), code_(std::move(code)), retryAfter_(retryAfter) {}
  int status() const noexcept { return status_; }
  const std::string& code() const noexcept { return code_; }
  long retryAfter() const noexcept { return retryAfter_; }

 private:
  int status_;
  std::string code_;
  long retryAfter_;
};

}  // namespace mp
