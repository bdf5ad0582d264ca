// Process exit codes shared by metricpulsed and mpctl (documented in their man pages).
#pragma once

namespace mp::exit_code {

inline constexpr int kOk = 0;
/// The operation failed, or (mpctl db status) migrations are pending.
inline constexpr int kFailure = 1;
/// Bad command-line usage.
inline constexpr int kUsage = 2;
/// The configuration is invalid.
inline constexpr int kConfig = 3;
/// The database schema is not the one this build expects (run mpctl db migrate).
inline constexpr int kSchema = 4;
/// PostgreSQL or Redis could not be reached.
inline constexpr int kUnavailable = 5;
/// The named user, website or object does not exist.
inline constexpr int kNotFound = 6;
/// The object already exists or the change conflicts with existing data.
inline constexpr int kConflict = 7;
/// The input file holds bad rows (mpctl import): each is listed, nothing was imported.
inline constexpr int kDataError = 8;

}  // namespace mp::exit_code
