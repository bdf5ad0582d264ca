// What the libpq wrappers of core/db share. Internal to core/db, the one part of mp_core that
// includes libpq-fe.h (mp_core links libpq privately): nothing outside core/db includes this.
#pragma once

#include <libpq-fe.h>

#include <string>
#include <string_view>

#include "util/error.hpp"

namespace mp::db::detail {

/// libpq's messages end in a newline and continue on tab-indented lines; one line reads better in
/// logs and in an exception's what().
std::string oneLine(std::string_view text);

/// A diagnostic field of a failed result (PG_DIAG_…), nullptr when it is absent or empty.
const char* errorField(const PGresult* res, int code);

/// The DbError of a failed COPY step: `res` the failed result, or nullptr when libpq itself failed
/// (the reason is then the connection's). The message is the server's primary message, detail
/// and context; the SQLSTATE the server's, else 08006 when the connection is gone.
DbError copyError(PGconn* conn, const PGresult* res);

/// After a result with status `status` (PGRES_COPY_IN, _OUT or _BOTH) that nobody wanted: ends
/// the copy (`reason` is the error the server reports for an unfinished COPY IN) and reads every
/// result left, so the connection takes statements again.
void abandonCopy(PGconn* conn, ExecStatusType status, const char* reason) noexcept;

}  // namespace mp::db::detail
