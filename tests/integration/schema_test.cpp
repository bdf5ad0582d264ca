// The schema after every migration can be distributed with Citus by website_id
// (docs/scaling.md, "Distributing PostgreSQL with Citus"): read from the catalog of a migrated
// database, every table is a reference table (a short, named list) or holds website_id; every
// primary key, unique constraint, unique index and exclusion constraint of the others includes
// website_id; every foreign key between two of them has website_id at the same place in both
// column lists, and none sets it to NULL or a default or cascades an update to it; no reference
// table refers to them. The commands of docs/scaling.md name every table once, in an order Citus
// accepts. A migration that breaks any of this fails here, naming the table and the constraint.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "db/connection.hpp"
#include "db/migrations.hpp"
#include "support/env.hpp"

namespace mp::test {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr auto kTimeout = std::chrono::seconds(10);

// Small tables without website_id that every worker gets a copy of. Anything else without
// website_id fails the test: it must gain the column or be added here and to docs/scaling.md.
const std::set<std::string> kReferenceTables = {"schema_migrations", "users", "websites", "salts"};

constexpr const char* kDistributionColumn = "website_id";

struct Table {
  std::string name;
  bool reference = false;    // listed in kReferenceTables
  bool distributed = false;  // has website_id and is not a reference table
};

std::string describeAction(char action) {
  switch (action) {
    case 'c':
      return "CASCADE";
    case 'n':
      return "SET NULL";
    case 'd':
      return "SET DEFAULT";
    case 'r':
      return "RESTRICT";
    default:
      return "NO ACTION";
  }
}

std::vector<std::string> splitList(std::string_view text) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in{std::string(text)};
  while (std::getline(in, item, ',')) out.push_back(item);
  return out;
}

// Index of website_id in a column list, or -1.
int positionOf(const std::vector<std::string>& columns) {
  const auto it = std::find(columns.begin(), columns.end(), kDistributionColumn);
  return it == columns.end() ? -1 : static_cast<int>(it - columns.begin());
}

// The tables of the current schema (ordinary and partitioned, partitions included: they are
// distributed with their parent and hold website_id like it), classified.
std::map<std::string, Table> readTables(db::Connection& conn, std::vector<std::string>& problems) {
  auto rows = conn.exec(
      "SELECT c.relname, a.attname IS NOT NULL,"
      " coalesce(format_type(a.atttypid, a.atttypmod), ''), coalesce(a.attnotnull, false)"
      " FROM pg_class c"
      " LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'website_id'"
      "  AND NOT a.attisdropped"
      " WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')"
      " ORDER BY c.relname");
  std::map<std::string, Table> tables;
  for (int r = 0; r < rows.rows(); ++r) {
    Table t;
    t.name = rows.get(r, 0);
    const bool hasSite = rows.getBool(r, 1);
    t.reference = kReferenceTables.count(t.name) > 0;
    if (t.reference && hasSite) {
      problems.push_back(fmt::format(
          "table {}: listed as a reference table but has a website_id column: distribute it by "
          "website_id (take it off the reference list here and in docs/scaling.md)",
          t.name));
    } else if (!t.reference && !hasSite) {
      problems.push_back(fmt::format(
          "table {}: no website_id column and not a reference table: give it website_id (in its "
          "keys too), or list it as a reference table here and in docs/scaling.md",
          t.name));
    } else if (hasSite) {
      t.distributed = true;
      if (rows.get(r, 2) != "uuid") {
        problems.push_back(fmt::format(
            "table {}: website_id is {}, not uuid: co-located tables need one distribution type",
            t.name, rows.get(r, 2)));
      }
      if (!rows.getBool(r, 3)) {
        problems.push_back(fmt::format(
            "table {}: website_id may be NULL: Citus refuses a NULL distribution column", t.name));
      }
    }
    tables.emplace(t.name, t);
  }
  for (const auto& name : kReferenceTables) {
    if (!tables.count(name)) {
      problems.push_back(fmt::format(
          "table {}: listed as a reference table but does not exist: take it off the list here "
          "and in docs/scaling.md",
          name));
    }
  }
  return tables;
}

// Primary keys, unique constraints, unique indexes and exclusion constraints of distributed
// tables without website_id among their key columns (INCLUDE columns do not count). An index of a
// partition that belongs to its parent's index is checked as the parent's.
void checkUniqueKeys(db::Connection& conn, const std::map<std::string, Table>& tables,
                     std::vector<std::string>& problems) {
  auto rows = conn.exec(
      "SELECT t.relname, i.relname, coalesce(con.contype::text, ''), coalesce(con.conname, ''),"
      " pg_get_indexdef(x.indexrelid),"
      " EXISTS (SELECT 1 FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)"
      "  JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum"
      "  WHERE a.attname = 'website_id' AND k.ord <= x.indnkeyatts)"
      " FROM pg_index x"
      " JOIN pg_class t ON t.oid = x.indrelid"
      " JOIN pg_class i ON i.oid = x.indexrelid"
      " LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid"
      "  AND con.contype IN ('p', 'u', 'x')"
      " WHERE t.relnamespace = current_schema()::regnamespace AND t.relkind IN ('r', 'p')"
      " AND (x.indisunique OR x.indisexclusion)"
      " AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = x.indexrelid)"
      " ORDER BY 1, 2");
  for (int r = 0; r < rows.rows(); ++r) {
    const std::string table(rows.get(r, 0));
    const auto t = tables.find(table);
    if (t == tables.end() || !t->second.distributed || rows.getBool(r, 5)) continue;
    const std::string_view type = rows.get(r, 2);
    const std::string what = type == "p"   ? "PRIMARY KEY " + std::string(rows.get(r, 3))
                             : type == "u" ? "UNIQUE constraint " + std::string(rows.get(r, 3))
                             : type == "x" ? "EXCLUDE constraint " + std::string(rows.get(r, 3))
                                           : "unique index " + std::string(rows.get(r, 1));
    problems.push_back(
        fmt::format("table {}: {} does not include website_id ({}): Citus needs the distribution "
                    "column in every primary key and unique constraint",
                    table, what, rows.get(r, 4)));
  }
}

// Foreign keys. A constraint of a partition cloned from its parent's is checked as the parent's.
void checkForeignKeys(db::Connection& conn, const std::map<std::string, Table>& tables,
                      std::vector<std::string>& problems) {
  auto rows = conn.exec(
      "SELECT src.relname, con.conname, dst.relname,"
      " (SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(con.conkey)"
      "  WITH ORDINALITY AS k(attnum, ord) JOIN pg_attribute a"
      "  ON a.attrelid = con.conrelid AND a.attnum = k.attnum),"
      " (SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(con.confkey)"
      "  WITH ORDINALITY AS k(attnum, ord) JOIN pg_attribute a"
      "  ON a.attrelid = con.confrelid AND a.attnum = k.attnum),"
      " con.confdeltype::text, con.confupdtype::text"
      " FROM pg_constraint con"
      " JOIN pg_class src ON src.oid = con.conrelid"
      " JOIN pg_class dst ON dst.oid = con.confrelid"
      " WHERE con.contype = 'f' AND con.conparentid = 0"
      " AND src.relnamespace = current_schema()::regnamespace"
      " ORDER BY 1, 2");
  for (int r = 0; r < rows.rows(); ++r) {
    const std::string from(rows.get(r, 0));
    const std::string name(rows.get(r, 1));
    const std::string to(rows.get(r, 2));
    const auto columns = splitList(rows.get(r, 3));
    const auto referenced = splitList(rows.get(r, 4));
    const char onDelete = rows.get(r, 5).front();
    const char onUpdate = rows.get(r, 6).front();
    const auto src = tables.find(from);
    const auto dst = tables.find(to);
    // A table that is neither has been reported already.
    if (src == tables.end() || dst == tables.end()) continue;
    if (!(src->second.reference || src->second.distributed)) continue;
    if (!(dst->second.reference || dst->second.distributed)) continue;
    const std::string head = fmt::format("table {}: foreign key {} ({}) → {} ({})", from, name,
                                         rows.get(r, 3), to, rows.get(r, 4));
    if (src->second.reference) {
      if (!dst->second.reference) {
        problems.push_back(head + ": a reference table cannot refer to a distributed table");
      }
      continue;
    }
    const int at = positionOf(columns);
    if (!dst->second.reference) {
      const int referencedAt = positionOf(referenced);
      if (at < 0 || referencedAt < 0 || at != referencedAt) {
        problems.push_back(head +
                           ": between distributed tables, website_id must be in both column "
                           "lists at the same place (co-located foreign key)");
      }
    }
    if (at >= 0 && (onDelete == 'n' || onDelete == 'd')) {
      problems.push_back(
          fmt::format("{}: ON DELETE {} would change website_id, which Citus refuses", head,
                      describeAction(onDelete)));
    }
    if (at >= 0 && (onUpdate == 'n' || onUpdate == 'd' || onUpdate == 'c')) {
      problems.push_back(
          fmt::format("{}: ON UPDATE {} would change website_id, which Citus refuses", head,
                      describeAction(onUpdate)));
    }
  }
}

// Everything Citus would refuse about the schema of `conn`'s database, one line each.
std::vector<std::string> citusProblems(db::Connection& conn) {
  std::vector<std::string> problems;
  const auto tables = readTables(conn, problems);
  checkUniqueKeys(conn, tables, problems);
  checkForeignKeys(conn, tables, problems);
  return problems;
}

std::string joinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += "\n  " + l;
  return out;
}

class CitusSchemaTest : public ::testing::Test {
 protected:
  TempDatabase db_;
  db::Connection conn_{db_.url(), kTimeout};
};

TEST_F(CitusSchemaTest, EveryMigratedTableCanBeDistributedByWebsite) {
  db::Migrator(conn_).migrate();
  const auto problems = citusProblems(conn_);
  EXPECT_THAT(problems, IsEmpty()) << "the schema breaks the Citus rule:" << joinLines(problems);

  // The check saw the schema: the per-website tables are there, events with its partitions.
  const auto counted = conn_.exec(
      "SELECT count(*) FILTER (WHERE NOT c.relispartition), count(*) FILTER (WHERE "
      "c.relispartition) FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid"
      " AND a.attname = 'website_id' WHERE c.relnamespace = current_schema()::regnamespace"
      " AND c.relkind IN ('r', 'p')");
  EXPECT_GE(counted.getInt(0, 0), 10);
  EXPECT_GE(counted.getInt(0, 1), 2) << "events_default and this month's partition at least";
}

// A later migration that breaks the rule fails with the table and the constraint named; keys
// holding website_id in any place pass.
TEST_F(CitusSchemaTest, AMigrationBreakingTheRuleIsNamed) {
  auto sources = db::embeddedMigrations();
  sources.push_back({"9001_breaks_citus.sql", R"sql(
CREATE TABLE widgets (
  id         uuid PRIMARY KEY,
  website_id uuid NOT NULL REFERENCES websites (id) ON DELETE CASCADE
);
CREATE TABLE widget_parts (
  website_id uuid NOT NULL,
  widget_id  uuid NOT NULL REFERENCES widgets (id),
  part       text NOT NULL,
  PRIMARY KEY (widget_id, part, website_id)
);
ALTER TABLE goals ADD CONSTRAINT goals_name_key UNIQUE (name);
CREATE UNIQUE INDEX funnels_name_site_idx ON funnels (name, website_id);
CREATE UNIQUE INDEX shares_token_key ON shares (token) INCLUDE (website_id);
ALTER TABLE funnel_daily ADD CONSTRAINT funnel_daily_swapped_fkey
  FOREIGN KEY (funnel_id, website_id) REFERENCES funnels (website_id, id);
CREATE TABLE goal_notes (
  website_id uuid NOT NULL,
  goal_id    uuid,
  note       text,
  UNIQUE (website_id, goal_id),
  CONSTRAINT goal_notes_goal_fkey FOREIGN KEY (website_id, goal_id)
    REFERENCES goals (website_id, id) ON DELETE SET NULL
);
CREATE TABLE settings (key text PRIMARY KEY, value text);
CREATE TABLE loose_notes (website_id uuid, note text);
ALTER TABLE salts ADD COLUMN share_site uuid, ADD COLUMN share_id uuid,
  ADD CONSTRAINT salts_share_fkey FOREIGN KEY (share_site, share_id)
    REFERENCES shares (website_id, id);
)sql"});
  db::Migrator(conn_, sources).migrate();
  const auto problems = citusProblems(conn_);
  const auto line = [](const std::string& a, const std::string& b) {
    return Contains(AllOf(HasSubstr(a), HasSubstr(b)));
  };
  EXPECT_THAT(problems, line("table widgets", "PRIMARY KEY widgets_pkey"));
  EXPECT_THAT(problems, line("table widget_parts", "foreign key widget_parts_widget_id_fkey"));
  EXPECT_THAT(problems, line("table goals", "UNIQUE constraint goals_name_key"));
  EXPECT_THAT(problems, line("table shares", "unique index shares_token_key"));
  EXPECT_THAT(problems, line("table funnel_daily", "foreign key funnel_daily_swapped_fkey"));
  EXPECT_THAT(problems, line("table goal_notes", "ON DELETE SET NULL"));
  EXPECT_THAT(problems, line("table settings", "no website_id column"));
  EXPECT_THAT(problems, line("table loose_notes", "may be NULL"));
  EXPECT_THAT(problems, line("table salts", "foreign key salts_share_fkey"));
  // website_id in the key, leading or not, is all Citus asks.
  EXPECT_THAT(problems, Not(Contains(HasSubstr("widget_parts_pkey"))));
  EXPECT_THAT(problems, Not(Contains(HasSubstr("funnels_name_site_idx"))));
  EXPECT_THAT(problems, Not(Contains(HasSubstr("goal_notes_website_id_goal_id_key"))));
  EXPECT_EQ(problems.size(), 9u) << joinLines(problems);
}

// docs/scaling.md distributes every table of the schema: reference tables with
// create_reference_table, the others by website_id, co-located with the first, each after the
// tables its foreign keys refer to (Citus refuses a foreign key to a table not yet distributed).
TEST_F(CitusSchemaTest, ScalingGuideDistributesEveryTableInDependencyOrder) {
  db::Migrator(conn_).migrate();
  std::ifstream file(sourcePath("docs/scaling.md"));
  ASSERT_TRUE(file) << "docs/scaling.md is missing";
  std::stringstream text;
  text << file.rdbuf();
  const std::string guide = text.str();

  const std::regex call(
      R"(SELECT (create_reference_table|create_distributed_table)\('([a-z_0-9]+)'(?:, '([a-z_0-9]+)')?(?:, colocate_with => '([a-z_0-9]+)')?\);)");
  std::map<std::string, int> order;
  std::set<std::string> reference, distributed;
  std::string first;
  int n = 0;
  for (auto it = std::sregex_iterator(guide.begin(), guide.end(), call);
       it != std::sregex_iterator(); ++it) {
    const auto& m = *it;
    const std::string table = m[2];
    EXPECT_TRUE(order.emplace(table, n++).second) << table << " is distributed twice";
    if (m[1] == "create_reference_table") {
      reference.insert(table);
      continue;
    }
    distributed.insert(table);
    EXPECT_EQ(m[3].str(), kDistributionColumn) << table;
    if (first.empty()) {
      first = table;
      EXPECT_FALSE(m[4].matched) << table << ": the first distributed table starts the group";
    } else {
      EXPECT_EQ(m[4].str(), first) << table << " must be co-located with " << first;
    }
  }

  auto rows = conn_.exec(
      "SELECT c.relname, EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid"
      " AND a.attname = 'website_id' AND NOT a.attisdropped)"
      " FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace"
      " AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1");
  std::set<std::string> schemaReference, schemaDistributed;
  for (int r = 0; r < rows.rows(); ++r) {
    (rows.getBool(r, 1) ? schemaDistributed : schemaReference).emplace(rows.get(r, 0));
  }
  EXPECT_EQ(reference, schemaReference) << "create_reference_table calls of docs/scaling.md";
  EXPECT_EQ(distributed, schemaDistributed) << "create_distributed_table calls of docs/scaling.md";

  auto keys = conn_.exec(
      "SELECT con.conname, src.relname, dst.relname FROM pg_constraint con"
      " JOIN pg_class src ON src.oid = con.conrelid JOIN pg_class dst ON dst.oid = con.confrelid"
      " WHERE con.contype = 'f' AND con.conparentid = 0"
      " AND src.relnamespace = current_schema()::regnamespace ORDER BY 1");
  for (int r = 0; r < keys.rows(); ++r) {
    const std::string from(keys.get(r, 1)), to(keys.get(r, 2));
    if (!order.count(from) || !order.count(to) || from == to) continue;
    EXPECT_LT(order[to], order[from])
        << "docs/scaling.md distributes " << from << " before " << to << ", which its foreign key "
        << keys.get(r, 0) << " refers to";
  }
}

}  // namespace
}  // namespace mp::test
