// The Prometheus text exposition format, version 0.0.4: a writer that appends
// HELP/TYPE lines and samples to one string.
//
// prometheus-cpp has no Debian package, so drover writes the format itself.
// The rules it must keep (held against `promtool check metrics` in the tests):
// every line ends in '\n'; a family's HELP and TYPE come before its samples and
// all its samples form one uninterrupted group; label values escape '\\', '"'
// and newline, HELP text escapes '\\' and newline; values are Go ParseFloat
// syntax ("NaN", "+Inf", "-Inf"); a histogram's buckets are cumulative, in
// increasing `le` order, end with le="+Inf", and that bucket equals `_count`.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace drover {

enum class MetricType { counter, gauge, histogram };
const char* metric_type_name(MetricType type);

/// The content type of what ExpositionWriter writes, for the HTTP answer.
inline constexpr const char* kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

/// Appends a label value with '\\', '"' and newline escaped.
void append_escaped_label_value(std::string& out, std::string_view value);
/// Appends HELP text with '\\' and newline escaped.
void append_escaped_help(std::string& out, std::string_view help);
/// Appends a sample value: integral values without exponent or fraction
/// ("3", not "3.0" or "3e+00"), others in the shortest form that reads back
/// exactly, and "NaN", "+Inf", "-Inf".
void append_metric_value(std::string& out, double value);
void append_metric_value(std::string& out, uint64_t value);
void append_metric_value(std::string& out, int64_t value);

struct Label {
    std::string_view name;
    std::string_view value;
};
using Labels = std::initializer_list<Label>;

/// Writes families into a caller-owned string. The caller keeps each family's
/// samples together, right after family(); names are trusted constants and are
/// not validated here.
class ExpositionWriter {
public:
    explicit ExpositionWriter(std::string& out) : out_(out) {}

    /// The HELP and TYPE lines of a family (for a histogram, its base name).
    void family(std::string_view name, MetricType type, std::string_view help);

    template <typename T>
        requires std::is_arithmetic_v<T>
    void sample(std::string_view name, Labels labels, T value)
    {
        begin_sample(name, {}, labels, nullptr);
        if constexpr (std::is_floating_point_v<T>)
            append_metric_value(out_, static_cast<double>(value));
        else if constexpr (std::is_signed_v<T>)
            append_metric_value(out_, static_cast<int64_t>(value));
        else
            append_metric_value(out_, static_cast<uint64_t>(value));
        out_.push_back('\n');
    }

    /// One histogram series: `name_bucket` for each bound and +Inf, then
    /// `name_sum` and `name_count`. `counts` are per bucket, NOT cumulative,
    /// with one more entry than `bounds` (the count above the last bound);
    /// they are accumulated here, so `_count` is their total by construction.
    void histogram(std::string_view name, Labels labels, std::span<const double> bounds,
                   std::span<const uint64_t> counts, double sum);

private:
    void begin_sample(std::string_view name, std::string_view suffix, Labels labels, const Label* extra);

    std::string& out_;
};

} // namespace drover
