// Array literals for one text[] parameter: quotes and backslashes escaped, nothing else touched.
#include "db/array.hpp"

#include <gtest/gtest.h>

namespace mp::db {
namespace {

TEST(DbArray, QuotesEveryValue) {
  EXPECT_EQ(arrayLiteral({}), "{}");
  EXPECT_EQ(arrayLiteral({""}), R"({""})");
  EXPECT_EQ(arrayLiteral({"a", "b c", "{x,y}"}), R"({"a","b c","{x,y}"})");
  EXPECT_EQ(arrayLiteral({R"(say "hi")", R"(back\slash)", "NULL"}),
            R"({"say \"hi\"","back\\slash","NULL"})");
}

}  // namespace
}  // namespace mp::db
