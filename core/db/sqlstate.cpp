// What SQLSTATEs mean to the callers of core/db.
#include "db/sqlstate.hpp"

#include <string>

namespace mp::db {

bool isUnavailable(const DbError& e) noexcept {
  const std::string& s = e.sqlstate();
  return sqlstateClass(s) == "08" || s == "57P01" || s == "57P02" || s == "57P03" ||
         s == kSqlstateTooManyConnections;
}

bool isDataError(const DbError& e) noexcept {
  const std::string_view cls = sqlstateClass(e.sqlstate());
  return cls == "22" || cls == "23" || e.sqlstate() == "54000";
}

}  // namespace mp::db
