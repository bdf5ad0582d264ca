// The live feed's per-connection output queue: what a partial write leaves, in order.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "live/live_impl.hpp"

namespace mp::ws::live_detail {
namespace {

Frame frame(std::string bytes) {
  return std::make_shared<const std::string>(std::move(bytes));
}

// What the socket would be given next: the unsent bytes, in order.
std::string unsent(const Output& o) {
  std::string all;
  for (std::size_t i = o.head; i < o.frames.size(); ++i) {
    all += o.frames[i]->substr(i == o.head ? o.offset : 0);
  }
  return all;
}

TEST(LiveOutput, PartialWritesLeaveTheRestInOrder) {
  Output o;
  o.push(frame("abcde"));
  o.push(frame("fgh"));
  o.push(frame("ij"));
  EXPECT_EQ(o.bytes, 10u);
  o.consume(3);  // inside the first frame
  EXPECT_EQ(unsent(o), "defghij");
  EXPECT_EQ(o.bytes, 7u);
  o.consume(4);  // the rest of the first and part of the second
  EXPECT_EQ(unsent(o), "hij");
  o.consume(1);  // exactly the end of the second
  EXPECT_EQ(unsent(o), "ij");
  EXPECT_EQ(o.offset, 0u);
  o.push(frame("kl"));
  o.consume(4);
  EXPECT_EQ(o.bytes, 0u);
  EXPECT_TRUE(o.frames.empty()) << "a drained queue keeps no frames";
  EXPECT_EQ(o.head, 0u);
}

TEST(LiveOutput, AFrameSharedWithOthersIsReleasedOnceWritten) {
  const Frame shared = frame("event");
  Output a;
  Output b;
  a.push(shared);
  b.push(shared);
  EXPECT_EQ(shared.use_count(), 3);
  a.consume(5);
  EXPECT_EQ(shared.use_count(), 2);
  b.consume(2);
  EXPECT_EQ(shared.use_count(), 2) << "half written: still held";
  b.consume(3);
  EXPECT_EQ(shared.use_count(), 1);
}

TEST(LiveOutput, ALongBacklogIsCompactedAsItDrains) {
  Output o;
  std::string expected;
  for (int i = 0; i < 300; ++i) {
    const std::string f = std::to_string(i) + ";";
    o.push(frame(f));
    expected += f;
  }
  std::size_t written = 0;
  while (written + 7 <= expected.size()) {
    o.consume(7);
    written += 7;
    ASSERT_EQ(unsent(o), expected.substr(written));
    ASSERT_LE(o.head, 64u + o.frames.size() / 2) << "written frames pile up at the front";
  }
  o.consume(expected.size() - written);
  EXPECT_TRUE(o.frames.empty());
}

}  // namespace
}  // namespace mp::ws::live_detail
