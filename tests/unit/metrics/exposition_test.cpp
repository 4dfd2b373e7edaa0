#include "metrics/exposition.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>

namespace drover {
namespace {

std::string label_value(std::string_view v)
{
    std::string out;
    append_escaped_label_value(out, v);
    return out;
}

std::string help(std::string_view v)
{
    std::string out;
    append_escaped_help(out, v);
    return out;
}

std::string value(double v)
{
    std::string out;
    append_metric_value(out, v);
    return out;
}

TEST(Exposition, LabelValueEscapesBackslashQuoteAndNewline)
{
    EXPECT_EQ(label_value("plain"), "plain");
    EXPECT_EQ(label_value("a\\b"), "a\\\\b");
    EXPECT_EQ(label_value("say \"hi\""), "say \\\"hi\\\"");
    EXPECT_EQ(label_value("two\nlines"), "two\\nlines");
    // Tabs, carriage returns and UTF-8 pass through unchanged.
    EXPECT_EQ(label_value("t\tr\r\xc3\xa9"), "t\tr\r\xc3\xa9");
}

TEST(Exposition, HelpEscapesBackslashAndNewlineButNotQuotes)
{
    EXPECT_EQ(help("a \\ b"), "a \\\\ b");
    EXPECT_EQ(help("line\nnext"), "line\\nnext");
    EXPECT_EQ(help("\"quoted\""), "\"quoted\"");
}

TEST(Exposition, IntegralValuesHaveNoExponentOrFraction)
{
    EXPECT_EQ(value(0), "0");
    EXPECT_EQ(value(-0.0), "0");
    EXPECT_EQ(value(1), "1");
    EXPECT_EQ(value(42), "42");
    EXPECT_EQ(value(-7), "-7");
    EXPECT_EQ(value(1e15), "1000000000000000");
    EXPECT_EQ(value(1e20), "100000000000000000000");
    EXPECT_EQ(value(9007199254740993.0), "9007199254740992");  // nearest double
}

TEST(Exposition, FractionalValuesReadBackExactly)
{
    EXPECT_EQ(value(0.5), "0.5");
    EXPECT_EQ(value(0.001), "0.001");
    EXPECT_EQ(value(0.0025), "0.0025");
    EXPECT_EQ(value(-2.5), "-2.5");
    EXPECT_EQ(value(1234567.125), "1234567.125");
    EXPECT_EQ(value(0.1 + 0.2), "0.30000000000000004");
    EXPECT_EQ(value(1.5e-7), "1.5e-07");
    EXPECT_EQ(value(1e300), "1e+300");
}

TEST(Exposition, SpecialValuesUseGoSpelling)
{
    EXPECT_EQ(value(std::numeric_limits<double>::quiet_NaN()), "NaN");
    EXPECT_EQ(value(std::numeric_limits<double>::infinity()), "+Inf");
    EXPECT_EQ(value(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(Exposition, IntegerOverloadsAreExact)
{
    std::string out;
    append_metric_value(out, std::numeric_limits<uint64_t>::max());
    EXPECT_EQ(out, "18446744073709551615");
    out.clear();
    append_metric_value(out, int64_t{-12});
    EXPECT_EQ(out, "-12");
}

TEST(Exposition, FamilyWritesHelpThenType)
{
    std::string out;
    ExpositionWriter w(out);
    w.family("x_total", MetricType::counter, "Counts \\ things\nacross lines.");
    w.family("y", MetricType::gauge, "A gauge.");
    w.family("z_seconds", MetricType::histogram, "A histogram.");
    EXPECT_EQ(out,
              "# HELP x_total Counts \\\\ things\\nacross lines.\n"
              "# TYPE x_total counter\n"
              "# HELP y A gauge.\n"
              "# TYPE y gauge\n"
              "# HELP z_seconds A histogram.\n"
              "# TYPE z_seconds histogram\n");
}

TEST(Exposition, SamplesWithAndWithoutLabels)
{
    std::string out;
    ExpositionWriter w(out);
    w.sample("a", {}, 3);
    w.sample("b", {{"k", "v"}}, 0.25);
    w.sample("c_total", {{"k", "x\"y"}, {"l", "a\\b\nc"}}, uint64_t{7});
    w.sample("d", {}, std::numeric_limits<double>::infinity());
    EXPECT_EQ(out,
              "a 3\n"
              "b{k=\"v\"} 0.25\n"
              "c_total{k=\"x\\\"y\",l=\"a\\\\b\\nc\"} 7\n"
              "d +Inf\n");
}

TEST(Exposition, HistogramBucketsAreCumulativeAndInfEqualsCount)
{
    std::string out;
    ExpositionWriter w(out);
    const std::array<double, 3> bounds = {0.005, 0.1, 1};
    const std::array<uint64_t, 4> counts = {2, 0, 3, 4};  // the last is above 1
    w.histogram("h_seconds", {{"protocol", "http"}}, bounds, counts, 12.5);
    EXPECT_EQ(out,
              "h_seconds_bucket{protocol=\"http\",le=\"0.005\"} 2\n"
              "h_seconds_bucket{protocol=\"http\",le=\"0.1\"} 2\n"
              "h_seconds_bucket{protocol=\"http\",le=\"1\"} 5\n"
              "h_seconds_bucket{protocol=\"http\",le=\"+Inf\"} 9\n"
              "h_seconds_sum{protocol=\"http\"} 12.5\n"
              "h_seconds_count{protocol=\"http\"} 9\n");
}

TEST(Exposition, HistogramWithoutLabelsAndEmpty)
{
    std::string out;
    ExpositionWriter w(out);
    const std::array<double, 2> bounds = {0.5, 2.5};
    const std::array<uint64_t, 3> counts = {0, 0, 0};
    w.histogram("h", {}, bounds, counts, 0);
    EXPECT_EQ(out,
              "h_bucket{le=\"0.5\"} 0\n"
              "h_bucket{le=\"2.5\"} 0\n"
              "h_bucket{le=\"+Inf\"} 0\n"
              "h_sum 0\n"
              "h_count 0\n");
}

TEST(Exposition, HistogramKeepsInfAndCountEqualWhateverTheCountsLength)
{
    const std::array<double, 2> bounds = {1, 2};
    const std::array<uint64_t, 1> short_counts = {5};
    const std::array<uint64_t, 5> long_counts = {1, 1, 1, 1, 1};
    std::string out;
    ExpositionWriter w(out);
    w.histogram("s", {}, bounds, short_counts, 1);
    EXPECT_NE(out.find("s_bucket{le=\"2\"} 5\n"), std::string::npos);
    EXPECT_NE(out.find("s_bucket{le=\"+Inf\"} 5\n"), std::string::npos);
    EXPECT_NE(out.find("s_count 5\n"), std::string::npos);
    out.clear();
    w.histogram("l", {}, bounds, long_counts, 1);
    EXPECT_NE(out.find("l_bucket{le=\"2\"} 2\n"), std::string::npos);
    EXPECT_NE(out.find("l_bucket{le=\"+Inf\"} 5\n"), std::string::npos);
    EXPECT_NE(out.find("l_count 5\n"), std::string::npos);
}

TEST(Exposition, ContentTypeIsTheVersionedTextFormat)
{
    EXPECT_STREQ(kExpositionContentType, "text/plain; version=0.0.4; charset=utf-8");
}

} // namespace
} // namespace drover
