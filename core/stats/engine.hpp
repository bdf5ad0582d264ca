// The query engine: answers any stats::Query exactly, from the rollups and visits of folded days
// and from visits computed from raw events for the others (docs/query-engine.md).
#pragma once

#include "db/connection.hpp"
#include "stats/query.hpp"

namespace mp::stats {

/// Answers `query` (website, range, metrics, dimensions, filters, order, paging, compare) in one
/// read-only REPEATABLE READ snapshot on `conn`, which must not be in a transaction. The website
/// is not looked up: its id and time zone are the query's. Throws InvalidInput for a query the
/// engine cannot answer (an invalid RE2 pattern, two event dimensions, a filter on time), and
/// DbError.
Answer run(db::Connection& conn, const Query& query);

}  // namespace mp::stats
