// A lock-free fixed-bucket histogram for /metrics, and its Prometheus text rendering.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace mp::util {

/// A Prometheus-style histogram with fixed upper bounds (`le`, inclusive) and an implicit +Inf
/// bucket; observe() is lock-free and may be called from any thread.
template <std::size_t N>
class Histogram {
 public:
  /// A histogram with these upper bounds, ascending.
  explicit constexpr Histogram(const std::array<double, N>& bounds) noexcept : bounds_(bounds) {}

  /// Counts one observation.
  void observe(double value) noexcept {
    std::size_t i = 0;
    while (i < N && value > bounds_[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
  }
  /// The upper bounds, without +Inf.
  const std::array<double, N>& bounds() const noexcept { return bounds_; }
  /// Observations at most bounds()[i] (cumulative, as the exposition format wants); i == N
  /// (the +Inf bucket) counts every observation.
  std::uint64_t cumulativeCount(std::size_t i) const noexcept {
    std::uint64_t total = 0;
    for (std::size_t b = 0; b <= i && b <= N; ++b) {
      total += buckets_[b].load(std::memory_order_relaxed);
    }
    return total;
  }
  /// Every observation (the _count series).
  std::uint64_t count() const noexcept { return cumulativeCount(N); }
  /// The sum of the observations (the _sum series).
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

 private:
  std::array<double, N> bounds_;
  std::array<std::atomic<std::uint64_t>, N + 1> buckets_{};
  std::atomic<double> sum_{0.0};
};

/// Appends `name_bucket{labels,le=…}`, `name_sum` and `name_count` lines in the Prometheus text
/// format; `labels` is "" or `key="value"` pairs. Bounds and sum are multiplied by `scale` (0.001
/// renders a histogram kept in milliseconds in seconds, the base unit).
template <std::size_t N>
void renderHistogram(std::string& out, const std::string& name, const std::string& labels,
                     const Histogram<N>& h, double scale = 1.0) {
  const std::string sep = labels.empty() ? "" : ",";
  for (std::size_t i = 0; i <= N; ++i) {
    std::string le = "+Inf";
    if (i < N) {
      le = std::to_string(h.bounds()[i] * scale);
      le.erase(le.find_last_not_of('0') + 1);  // 0.005000 -> 0.005, 10.000000 -> 10.
      if (le.back() == '.') le.pop_back();
    }
    out += name + "_bucket{" + labels + sep + "le=\"" + le + "\"} " +
           std::to_string(h.cumulativeCount(i)) + "\n";
  }
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += name + "_sum" + braces + " " + std::to_string(h.sum() * scale) + "\n";
  out += name + "_count" + braces + " " + std::to_string(h.count()) + "\n";
}

}  // namespace mp::util
