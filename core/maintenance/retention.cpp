// Pruning old events: the plan comes from the partition catalog, each step commits on its own,
// and the rollups go first so that no answer ever counts rows that are gone.
#include "maintenance/retention.hpp"

#include <fmt/format.h>

#include <optional>

#include "aggregation/aggregator.hpp"
#include "util/error.hpp"
#include "util/time.hpp"

namespace mp::maintenance {
namespace {

// 00:00 UTC of the cutoff day ($1, 'YYYY-MM-DD'), whatever the session's time zone.
constexpr const char* kCutoff = "(($1::date)::timestamp AT TIME ZONE 'UTC')";

// The days before the cutoff in each table the aggregation job fills. Deleted first: until the
// raw rows are gone too, stats read those days from the events themselves (no aggregation_runs
// row means "not folded"), which is still the truth.
struct RollupTable {
  const char* table;
  const char* before;  // condition on $1
};
constexpr RollupTable kRollups[] = {
    {"visits", "date < $1::date"},
    {"event_summary", "date < $1::date"},
    {"breakdown_daily", "date < $1::date"},
    {"funnel_daily", "date < $1::date"},
    {"goal_daily", "date < $1::date"},
    {"page_breakdown_daily", "date < $1::date"},
    {"hourly_summary", "hour < (($1::date)::timestamp AT TIME ZONE 'UTC')"},
    {"aggregation_runs", "date < $1::date"},
};

struct PartitionPlan {
  std::string name;  // quoted as needed (regclass text), safe to put into a statement
  bool drop;         // wholly before the cutoff; otherwise only its older rows are deleted
};

// Every partition holding rows before the cutoff, in bound order (default partition last). The
// bounds are read back from the catalog's own text, "FOR VALUES FROM ('…') TO ('…')", which
// carries the time zone offset; MINVALUE/MAXVALUE bounds read as NULL, so such a hand-made
// partition is never dropped, only cleaned.
std::vector<PartitionPlan> planPartitions(db::Connection& conn, const std::string& cutoff) {
  auto rows = conn.execArgs(
      fmt::format("WITH p AS ("
                  " SELECT c.oid::regclass::text AS name, c.oid = pt.partdefid AS is_default,"
                  " (regexp_match(pg_get_expr(c.relpartbound, c.oid),"
                  "   'FROM \\(''([^'']*)''\\)'))[1]::timestamptz AS lower_bound,"
                  " (regexp_match(pg_get_expr(c.relpartbound, c.oid),"
                  "   ' TO \\(''([^'']*)''\\)'))[1]::timestamptz AS upper_bound"
                  " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                  " JOIN pg_partitioned_table pt ON pt.partrelid = i.inhparent"
                  " WHERE i.inhparent = 'events'::regclass)"
                  " SELECT name, NOT is_default AND coalesce(upper_bound <= {0}, false) FROM p"
                  " WHERE is_default OR lower_bound IS NULL OR lower_bound < {0}"
                  " ORDER BY is_default, lower_bound NULLS FIRST, name",
                  kCutoff),
      cutoff);
  std::vector<PartitionPlan> plan;
  plan.reserve(static_cast<std::size_t>(rows.rows()));
  for (int r = 0; r < rows.rows(); ++r) {
    plan.push_back({std::string(rows.get(r, 0)), rows.getBool(r, 1)});
  }
  return plan;
}

void add(PruneReport& report, PruneStep::Kind kind, const std::string& table, std::int64_t rows) {
  // A drop is a change even when the partition was empty; a delete of nothing is not.
  if (kind == PruneStep::Kind::kDropPartition || rows > 0) {
    report.steps.push_back({kind, table, rows});
  }
}

PruneReport dryRun(db::Connection& conn, const std::string& cutoff, PruneReport report) {
  // One snapshot, so the figures add up as they would for a run at this moment.
  db::Transaction tx(conn, db::Isolation::kRepeatableRead);
  conn.exec("SET TRANSACTION READ ONLY");
  for (const auto& rollup : kRollups) {
    const auto rows =
        conn.execArgs(fmt::format("SELECT count(*) FROM {} WHERE {}", rollup.table, rollup.before),
                      cutoff)
            .getInt(0, 0);
    add(report, PruneStep::Kind::kDeleteRollups, rollup.table, rows);
  }
  const auto plan = planPartitions(conn, cutoff);
  for (const auto& p : plan) {
    if (p.drop) {
      add(report, PruneStep::Kind::kDropPartition, p.name,
          conn.exec("SELECT count(*) FROM " + p.name).getInt(0, 0));
    }
  }
  for (const auto& p : plan) {
    if (!p.drop) {
      add(report, PruneStep::Kind::kDeleteEvents, p.name,
          conn.execArgs(fmt::format("SELECT count(*) FROM {} WHERE ts < {}", p.name, kCutoff),
                        cutoff)
              .getInt(0, 0));
    }
  }
  tx.commit();
  return report;
}

std::int64_t dropPartition(db::Connection& conn, const std::string& name) {
  db::Transaction tx(conn);
  // DROP locks the whole events table (ACCESS EXCLUSIVE) and everyone queues behind a waiting
  // drop, so it waits only briefly for long stats queries; the next run tries again.
  conn.exec(fmt::format("SET LOCAL lock_timeout = '{}s'", kDropLockTimeout.count()));
  const auto rows = conn.exec("SELECT count(*) FROM " + name).getInt(0, 0);
  try {
    conn.exec("DROP TABLE " + name);
  } catch (const DbError& e) {
    if (e.sqlstate() != "55P03") throw;
    throw DbError(fmt::format("retention: partition {} not dropped: the events table stayed busy "
                              "for {} s (long queries); run the prune again later",
                              name, kDropLockTimeout.count()),
                  e.sqlstate());
  }
  tx.commit();
  return rows;
}

}  // namespace

std::chrono::sys_days retentionCutoff(int days, std::chrono::sys_days today) {
  if (days < 1) {
    throw InvalidInput("older-than",
                       "the retention must be at least 1 day, not " + std::to_string(days));
  }
  return today - std::chrono::days{days};
}

int PruneReport::partitionsDropped() const {
  int n = 0;
  for (const auto& s : steps) n += s.kind == PruneStep::Kind::kDropPartition ? 1 : 0;
  return n;
}

std::int64_t PruneReport::eventsRemoved() const {
  std::int64_t n = 0;
  for (const auto& s : steps) n += s.kind != PruneStep::Kind::kDeleteRollups ? s.rows : 0;
  return n;
}

std::int64_t PruneReport::rollupRowsDeleted() const {
  std::int64_t n = 0;
  for (const auto& s : steps) n += s.kind == PruneStep::Kind::kDeleteRollups ? s.rows : 0;
  return n;
}

PruneReport pruneEvents(db::Connection& conn, std::chrono::sys_days cutoff, bool dry,
                        LockWait wait) {
  PruneReport report;
  report.cutoff = cutoff;
  report.dryRun = dry;
  const std::string cutoffText = util::formatDate(cutoff);
  if (dry) return dryRun(conn, cutoffText, std::move(report));

  // The fold lock too: a fold running meanwhile could write back rollups of days whose events
  // this run deletes under its snapshot.
  const auto retentionLock = AdvisoryLock::acquire(conn, kRetentionLockKey, wait);
  const auto foldLock =
      retentionLock ? AdvisoryLock::acquire(conn, aggregation::kFoldLockKey, wait) : std::nullopt;
  if (!foldLock) {
    report.skipped = true;
    return report;
  }

  {
    db::Transaction tx(conn);
    for (const auto& rollup : kRollups) {
      const auto deleted =
          conn.execArgs(fmt::format("DELETE FROM {} WHERE {}", rollup.table, rollup.before),
                        cutoffText)
              .affected();
      add(report, PruneStep::Kind::kDeleteRollups, rollup.table, deleted);
    }
    tx.commit();
  }
  const auto plan = planPartitions(conn, cutoffText);
  for (const auto& p : plan) {
    if (p.drop) add(report, PruneStep::Kind::kDropPartition, p.name, dropPartition(conn, p.name));
  }
  // One statement per partition: a scan of a month at most (ts does not lead any index), and no
  // transaction held across partitions.
  for (const auto& p : plan) {
    if (!p.drop) {
      add(report, PruneStep::Kind::kDeleteEvents, p.name,
          conn.execArgs(fmt::format("DELETE FROM {} WHERE ts < {}", p.name, kCutoff), cutoffText)
              .affected());
    }
  }
  return report;
}

}  // namespace mp::maintenance
