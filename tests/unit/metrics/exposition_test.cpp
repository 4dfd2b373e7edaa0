#include "metrics/exposition.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <limits>
#include <stdexcept>

#include "ipc/slot.hpp"

namespace drover {
namespace {

using prometheus::MetricType;

/// One gauge sample with `value`, serialized; the value text alone.
std::string value(double v)
{
    Families f;
    add_sample(add_family(f, "g", MetricType::Gauge, "A gauge."), {}, v);
    std::string text = serialize(f);
    std::string line = text.substr(text.rfind("\ng ") + 3);
    return line.substr(0, line.size() - 1);
}

TEST(Exposition, FamilyWritesHelpThenType)
{
    Families f;
    add_family(f, "x_total", MetricType::Counter, "Counts things.");
    add_family(f, "y", MetricType::Gauge, "A \"gauge\".");
    add_family(f, "z_seconds", MetricType::Histogram, "A histogram.");
    EXPECT_EQ(serialize(f),
              "# HELP x_total Counts things.\n"
              "# TYPE x_total counter\n"
              "# HELP y A \"gauge\".\n"
              "# TYPE y gauge\n"
              "# HELP z_seconds A histogram.\n"
              "# TYPE z_seconds histogram\n");
}

TEST(Exposition, HelpThatTheSerializerWouldNotEscapeIsRefused)
{
    // TextSerializer 1.0.1 writes HELP as given: a newline would end the line.
    Families f;
    EXPECT_THROW(add_family(f, "a", MetricType::Gauge, "two\nlines"), std::invalid_argument);
    EXPECT_THROW(add_family(f, "b", MetricType::Gauge, "back\\slash"), std::invalid_argument);
    EXPECT_TRUE(f.empty());
}

TEST(Exposition, SamplesWithAndWithoutLabelsAndEscapedLabelValues)
{
    Families f;
    add_sample(add_family(f, "a", MetricType::Gauge, "A."), {}, 3);
    add_sample(add_family(f, "b", MetricType::Gauge, "B."), {{"k", "v"}}, 0.25);
    add_sample(add_family(f, "c_total", MetricType::Counter, "C."), {{"k", "x\"y"}, {"l", "a\\b\nc"}}, 7);
    add_sample(f.back(), {{"k", "t\tr\r\xc3\xa9"}}, 8);  // tabs, CR and UTF-8 pass through
    EXPECT_EQ(serialize(f),
              "# HELP a A.\n# TYPE a gauge\n"
              "a 3\n"
              "# HELP b B.\n# TYPE b gauge\n"
              "b{k=\"v\"} 0.25\n"
              "# HELP c_total C.\n# TYPE c_total counter\n"
              "c_total{k=\"x\\\"y\",l=\"a\\\\b\\nc\"} 7\n"
              "c_total{k=\"t\tr\r\xc3\xa9\"} 8\n");
}

TEST(Exposition, IntegralValuesHaveNoExponentOrFractionUpTo2To53)
{
    EXPECT_EQ(value(0), "0");
    EXPECT_EQ(value(1), "1");
    EXPECT_EQ(value(42), "42");
    EXPECT_EQ(value(-7), "-7");
    EXPECT_EQ(value(1e15), "1000000000000000");
    // The most a slot counter may hold (ipc/slot.hpp) prints exactly.
    EXPECT_EQ(value(static_cast<double>(kSlotCounterLimit)), "9007199254740992");
    EXPECT_EQ(value(static_cast<double>(kSlotCounterLimit - 1)), "9007199254740991");
}

TEST(Exposition, FractionalAndSpecialValues)
{
    EXPECT_EQ(value(0.5), "0.5");
    EXPECT_EQ(value(0.001), "0.001");
    EXPECT_EQ(value(0.0025), "0.0025");
    EXPECT_EQ(value(0.027), "0.027");
    EXPECT_EQ(value(-2.5), "-2.5");
    EXPECT_EQ(value(1234567.125), "1234567.125");
    EXPECT_EQ(value(1700000000.75), "1700000000.75");
    EXPECT_EQ(value(1.5e-7), "1.5e-07");
    EXPECT_EQ(value(std::numeric_limits<double>::infinity()), "+Inf");
    EXPECT_EQ(value(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(Exposition, HistogramBucketsAreCumulativeAndInfEqualsCount)
{
    Families f;
    const std::array<double, 3> bounds = {0.005, 0.1, 1};
    const std::array<uint64_t, 4> counts = {2, 0, 3, 4};  // the last is above 1
    add_histogram(add_family(f, "h_seconds", MetricType::Histogram, "H."), {{"protocol", "http"}}, bounds, counts,
                  12.5);
    EXPECT_EQ(serialize(f),
              "# HELP h_seconds H.\n# TYPE h_seconds histogram\n"
              "h_seconds_count{protocol=\"http\"} 9\n"
              "h_seconds_sum{protocol=\"http\"} 12.5\n"
              "h_seconds_bucket{protocol=\"http\",le=\"0.005\"} 2\n"
              "h_seconds_bucket{protocol=\"http\",le=\"0.1\"} 2\n"
              "h_seconds_bucket{protocol=\"http\",le=\"1\"} 5\n"
              "h_seconds_bucket{protocol=\"http\",le=\"+Inf\"} 9\n");
}

TEST(Exposition, DurationBucketBoundsKeepTheirLabelText)
{
    // `le` is part of the series' identity: the text must not change.
    Families f;
    std::array<uint64_t, kDurationBuckets> counts{};
    add_histogram(add_family(f, "d", MetricType::Histogram, "D."), {}, kDurationBounds, counts, 0);
    std::string text = serialize(f);
    for (const char* le : {"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
                           "10", "30", "60", "+Inf"})
        EXPECT_NE(text.find(std::string("d_bucket{le=\"") + le + "\"} 0\n"), std::string::npos) << le << "\n" << text;
}

TEST(Exposition, HistogramKeepsInfAndCountEqualWhateverTheCountsLength)
{
    const std::array<double, 2> bounds = {1, 2};
    const std::array<uint64_t, 1> short_counts = {5};
    const std::array<uint64_t, 5> long_counts = {1, 1, 1, 1, 1};
    Families f;
    add_histogram(add_family(f, "s", MetricType::Histogram, "S."), {}, bounds, short_counts, 1);
    add_histogram(add_family(f, "l", MetricType::Histogram, "L."), {}, bounds, long_counts, 1);
    std::string out = serialize(f);
    EXPECT_NE(out.find("s_bucket{le=\"2\"} 5\n"), std::string::npos) << out;
    EXPECT_NE(out.find("s_bucket{le=\"+Inf\"} 5\n"), std::string::npos);
    EXPECT_NE(out.find("s_count 5\n"), std::string::npos);
    EXPECT_NE(out.find("l_bucket{le=\"2\"} 2\n"), std::string::npos);
    EXPECT_NE(out.find("l_bucket{le=\"+Inf\"} 5\n"), std::string::npos);
    EXPECT_NE(out.find("l_count 5\n"), std::string::npos);
}

TEST(Exposition, HistogramSumsSaturateInsteadOfWrapping)
{
    const std::array<double, 2> bounds = {1, 2};
    const std::array<uint64_t, 3> counts = {UINT64_MAX - 1, 5, 7};
    Families f;
    add_histogram(add_family(f, "w", MetricType::Histogram, "W."), {}, bounds, counts, 0);
    const auto& h = f[0].metric[0].histogram;
    EXPECT_EQ(h.bucket[0].cumulative_count, UINT64_MAX - 1);
    EXPECT_EQ(h.bucket[1].cumulative_count, UINT64_MAX);
    EXPECT_EQ(h.sample_count, UINT64_MAX);
}

TEST(Exposition, ContentTypeIsTheVersionedTextFormat)
{
    EXPECT_STREQ(kExpositionContentType, "text/plain; version=0.0.4; charset=utf-8");
}

} // namespace
} // namespace drover
