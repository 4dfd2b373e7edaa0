// supervisor/config_values.cpp: the value grammar shared by the file and the
// command line.
#include "supervisor/config_values.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "supervisor/config.hpp"

namespace drover {
namespace {

TEST(ValueParsers, Durations)
{
    EXPECT_DOUBLE_EQ(parse_duration("250ms"), 0.25);
    EXPECT_DOUBLE_EQ(parse_duration("7"), 7.0);
    EXPECT_DOUBLE_EQ(parse_duration("2h"), 7200.0);
    EXPECT_THROW(parse_duration(""), std::invalid_argument);
    EXPECT_THROW(parse_duration("s"), std::invalid_argument);
    EXPECT_THROW(parse_duration("5d"), std::invalid_argument);
    EXPECT_THROW(parse_duration("1e3"), std::invalid_argument);
    EXPECT_THROW(parse_duration("inf"), std::invalid_argument);
    EXPECT_THROW(parse_duration("1.2.3s"), std::invalid_argument);
    EXPECT_THROW(parse_duration("-1s"), std::invalid_argument);
    EXPECT_THROW(parse_duration("9999999h"), std::invalid_argument);
}

TEST(ValueParsers, AppCallable)
{
    EXPECT_EQ(parse_app_callable("pkg.mod:obj.app"), "pkg.mod:obj.app");
    EXPECT_EQ(parse_app_callable("_private"), "_private:application");
    for (const char* bad : {"", ":app", "mod:", "1mod:app", "mod:app()", "a..b:c", "mod.:app", "a:b:c", "my mod"})
        EXPECT_THROW(parse_app_callable(bad), std::invalid_argument) << bad;
}

} // namespace
} // namespace drover
