#include "metrics/exposition.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace drover {

const char* metric_type_name(MetricType type)
{
    switch (type) {
    case MetricType::counter: return "counter";
    case MetricType::gauge: return "gauge";
    case MetricType::histogram: return "histogram";
    }
    return "untyped";
}

void append_escaped_label_value(std::string& out, std::string_view value)
{
    for (char c : value) {
        switch (c) {
        case '\\': out.append("\\\\"); break;
        case '"': out.append("\\\""); break;
        case '\n': out.append("\\n"); break;
        default: out.push_back(c);
        }
    }
}

void append_escaped_help(std::string& out, std::string_view help)
{
    for (char c : help) {
        switch (c) {
        case '\\': out.append("\\\\"); break;
        case '\n': out.append("\\n"); break;
        default: out.push_back(c);
        }
    }
}

namespace {

/// Formats a double into buf (64 bytes are always enough); returns the end.
char* format_double(char* buf, size_t size, double value)
{
    auto put = [&](std::string_view text) {
        return std::copy(text.begin(), text.end(), buf);
    };
    if (std::isnan(value))
        return put("NaN");
    if (std::isinf(value))
        return put(value > 0 ? "+Inf" : "-Inf");
    if (value == 0)  // also -0, which would print as "-0"
        return put("0");
    // Below 1e21 an integral double prints in at most 22 characters in fixed
    // notation; above, the exponent form is the readable one.
    if (std::trunc(value) == value && std::fabs(value) < 1e21)
        return std::to_chars(buf, buf + size, value, std::chars_format::fixed).ptr;
    return std::to_chars(buf, buf + size, value).ptr;
}

} // namespace

void append_metric_value(std::string& out, double value)
{
    char buf[64];
    out.append(buf, format_double(buf, sizeof buf, value));
}

void append_metric_value(std::string& out, uint64_t value)
{
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, value);
    out.append(buf, r.ptr);
}

void append_metric_value(std::string& out, int64_t value)
{
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, value);
    out.append(buf, r.ptr);
}

void ExpositionWriter::family(std::string_view name, MetricType type, std::string_view help)
{
    out_.append("# HELP ");
    out_.append(name);
    out_.push_back(' ');
    append_escaped_help(out_, help);
    out_.append("\n# TYPE ");
    out_.append(name);
    out_.push_back(' ');
    out_.append(metric_type_name(type));
    out_.push_back('\n');
}

void ExpositionWriter::begin_sample(std::string_view name, std::string_view suffix, Labels labels, const Label* extra)
{
    out_.append(name);
    out_.append(suffix);
    if (labels.size() != 0 || extra != nullptr) {
        out_.push_back('{');
        bool first = true;
        auto put = [&](const Label& label) {
            if (!first)
                out_.push_back(',');
            first = false;
            out_.append(label.name);
            out_.append("=\"");
            append_escaped_label_value(out_, label.value);
            out_.push_back('"');
        };
        for (const Label& label : labels)
            put(label);
        if (extra != nullptr)
            put(*extra);
        out_.push_back('}');
    }
    out_.push_back(' ');
}

void ExpositionWriter::histogram(std::string_view name, Labels labels, std::span<const double> bounds,
                                 std::span<const uint64_t> counts, double sum)
{
    // Sums saturate: counts near UINT64_MAX must not wrap into buckets that
    // go down, which no histogram can have.
    auto accumulate = [](uint64_t& total, uint64_t n) {
        if (__builtin_add_overflow(total, n, &total))
            total = UINT64_MAX;
    };
    uint64_t cumulative = 0;
    char le[64];
    for (size_t i = 0; i < bounds.size(); ++i) {
        if (i < counts.size())
            accumulate(cumulative, counts[i]);
        Label le_label{"le", std::string_view(le, format_double(le, sizeof le, bounds[i]))};
        begin_sample(name, "_bucket", labels, &le_label);
        append_metric_value(out_, cumulative);
        out_.push_back('\n');
    }
    // Everything counted, including any entries past bounds.size() + 1: the
    // +Inf bucket and _count must agree whatever the caller passed.
    for (size_t i = bounds.size(); i < counts.size(); ++i)
        accumulate(cumulative, counts[i]);
    Label inf_label{"le", "+Inf"};
    begin_sample(name, "_bucket", labels, &inf_label);
    append_metric_value(out_, cumulative);
    out_.push_back('\n');

    begin_sample(name, "_sum", labels, nullptr);
    append_metric_value(out_, sum);
    out_.push_back('\n');
    begin_sample(name, "_count", labels, nullptr);
    append_metric_value(out_, cumulative);
    out_.push_back('\n');
}

} // namespace drover
