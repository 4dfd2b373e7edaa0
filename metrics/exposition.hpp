// The Prometheus text exposition format 0.0.4, written by prometheus-cpp's
// core: metrics/ fills the library's data model (MetricFamily, ClientMetric)
// and prometheus::TextSerializer writes it. drover serves the result on the
// master's own libevent loop, never through the library's civetweb Exposer:
// no server threads in a process that forks.
//
// What TextSerializer 1.0.1 does, and what the builders here hold to because
// of it (checked by exposition_test and `promtool check metrics`):
// - label values are escaped ('\\', '"', newline); HELP text is written as
//   given, so help strings must not hold '\\' or a newline (they are
//   constants, and add_family() refuses them);
// - values get 16 significant digits: every integer up to 2^53 (the most a
//   slot counter may hold, see ipc/slot.hpp) prints exactly;
// - a histogram's +Inf bucket is its sample_count: add_histogram() makes the
//   buckets cumulative and saturating, so no bucket exceeds the next or +Inf.
#pragma once

#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace drover {

/// The content type of serialize()'s text, for the HTTP answer.
inline constexpr const char* kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

using Families = std::vector<prometheus::MetricFamily>;
using Labels = std::vector<prometheus::ClientMetric::Label>;

/// Appends a family with no samples and returns it (valid until the next
/// append). Throws std::invalid_argument when `help` holds '\\' or a
/// newline, which TextSerializer would write unescaped.
prometheus::MetricFamily& add_family(Families& families, std::string name, prometheus::MetricType type,
                                     std::string help);

/// One sample of a counter or gauge family (the family's type says which).
void add_sample(prometheus::MetricFamily& family, Labels labels, double value);

/// One histogram series. `counts` are per bucket, NOT cumulative, with one
/// more entry than `bounds` (the count above the last bound); any entries
/// past that count toward +Inf too, so the +Inf bucket (the sample count)
/// is always their total.
void add_histogram(prometheus::MetricFamily& family, Labels labels, std::span<const double> bounds,
                   std::span<const uint64_t> counts, double sum);

/// The text format of `families`, through prometheus::TextSerializer.
std::string serialize(const Families& families);

} // namespace drover
