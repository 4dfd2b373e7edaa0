#include "metrics/exposition.hpp"

#include <prometheus/text_serializer.h>

#include <stdexcept>

namespace drover {

namespace {

/// Sums that saturate: counts near UINT64_MAX must not wrap into buckets that
/// go down, which no histogram can have.
uint64_t saturating_add(uint64_t a, uint64_t b)
{
    uint64_t sum;
    return __builtin_add_overflow(a, b, &sum) ? UINT64_MAX : sum;
}

} // namespace

prometheus::MetricFamily& add_family(Families& families, std::string name, prometheus::MetricType type,
                                     std::string help)
{
    if (help.find_first_of("\\\n") != std::string::npos)
        throw std::invalid_argument("metric help for " + name + " holds '\\' or a newline");
    prometheus::MetricFamily& family = families.emplace_back();
    family.name = std::move(name);
    family.help = std::move(help);
    family.type = type;
    return family;
}

void add_sample(prometheus::MetricFamily& family, Labels labels, double value)
{
    prometheus::ClientMetric& metric = family.metric.emplace_back();
    metric.label = std::move(labels);
    if (family.type == prometheus::MetricType::Counter)
        metric.counter.value = value;
    else if (family.type == prometheus::MetricType::Gauge)
        metric.gauge.value = value;
    else
        metric.untyped.value = value;
}

void add_histogram(prometheus::MetricFamily& family, Labels labels, std::span<const double> bounds,
                   std::span<const uint64_t> counts, double sum)
{
    prometheus::ClientMetric& metric = family.metric.emplace_back();
    metric.label = std::move(labels);
    prometheus::ClientMetric::Histogram& h = metric.histogram;
    h.bucket.reserve(bounds.size());
    uint64_t cumulative = 0;
    for (size_t i = 0; i < bounds.size(); ++i) {
        if (i < counts.size())
            cumulative = saturating_add(cumulative, counts[i]);
        h.bucket.push_back({cumulative, bounds[i]});
    }
    for (size_t i = bounds.size(); i < counts.size(); ++i)
        cumulative = saturating_add(cumulative, counts[i]);
    // TextSerializer writes the +Inf bucket from sample_count.
    h.sample_count = cumulative;
    h.sample_sum = sum;
}

std::string serialize(const Families& families) { return prometheus::TextSerializer().Serialize(families); }

} // namespace drover
