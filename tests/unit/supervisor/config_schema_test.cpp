// supervisor/config_schema.cpp: every row of the settings table has a good
// and a bad example, from the file and (where it has one) from its flag. The
// good value must reach the row's own field and no other, and mean the same
// from the flag as from the file; the bad one must be refused with its exact
// message. A new row fails here until it has both.
#include "supervisor/config_schema.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/config.hpp"
#include "supervisor/config_merge.hpp"
#include "tests/unit/supervisor/config_examples.hpp"

namespace drover {
namespace {

/// A flag's good value (the same setting as the file example's good value,
/// for a key) and a bad one with the whole message. A flag that takes no
/// value has none: its bad form is given a value.
struct FlagExample {
    std::string_view flag;
    std::string_view good;
    std::string_view bad;
    std::string_view error;
};

// clang-format off
constexpr FlagExample kFlagExamples[] = {
    {"MODULE:CALLABLE", "pkg.wsgi:app", "my-app",
     R"(command line: MODULE:CALLABLE: must be MODULE:CALLABLE with dotted Python names, like "myapp.wsgi:application", got "my-app")"},
    {"--config", "drover.toml", "", "command line: --config: must not be empty"},
    {"--bind", "fastcgi:///run/app.sock", "127.0.0.1", "command line: --bind: missing port"},
    {"--workers", "4", "0", "command line: --workers: must be an integer from 1 to 1024"},
    {"--metrics", "[::1]:9100", "unix:/run/m.sock", "command line: --metrics: must be HOST:PORT or [V6]:PORT"},
    {"--timeout", "45s", "0", "command line: --timeout: must be greater than 0"},
    {"--max-requests", "1000", "-1", "command line: --max-requests: must be a non-negative integer"},
    {"--pythonpath", "/srv/lib", "", "command line: --pythonpath: must not be empty"},
    {"--chdir", "/srv/app", "", "command line: --chdir: must not be empty"},
    {"--virtualenv", "/srv/venv", "", "command line: --virtualenv: must not be empty"},
    {"--preload", "", "yes", "command line: --preload: takes no value"},
    {"--check", "", "1", "command line: --check: takes no value"},
    {"--version", "", "1", "command line: --version: takes no value"},
    {"--help", "", "1", "command line: --help: takes no value"},
};
// clang-format on

std::string file_error(const std::string& text)
{
    try {
        parse_config_text(text, "drover.toml");
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "<no ConfigError>";
}

CommandLine command_line(std::vector<std::string> args)
{
    std::vector<const char*> argv{"drover"};
    for (const std::string& a : args)
        argv.push_back(a.c_str());
    return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

std::string flag_error(std::vector<std::string> args)
{
    try {
        command_line(std::move(args));
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "<no ConfigError>";
}

/// How one example is passed: "--flag=value", "--flag", or the bare value.
std::vector<std::string> flag_args(const Setting& s, std::string_view value, bool with_value)
{
    if (s.is_positional())
        return {std::string(value)};
    if (!with_value)
        return {std::string(s.flag)};
    return {cat(s.flag, "=", value)};
}

TEST(SettingsTable, RowsAreWellFormed)
{
    std::set<std::string_view> keys, flags;
    for (const Setting& s : settings()) {
        EXPECT_TRUE(s.is_key() || s.has_flag()) << "a row with neither a key nor a flag";
        EXPECT_FALSE(s.help.empty()) << s.key << s.flag;
        if (s.is_key()) {
            EXPECT_TRUE(keys.insert(s.key).second) << "duplicate key " << s.key;
            EXPECT_TRUE(s.field.set && s.field.same && s.field.copy) << s.key;
        }
        if (s.has_flag()) {
            EXPECT_TRUE(flags.insert(s.flag).second) << "duplicate flag " << s.flag;
            EXPECT_TRUE(s.flag_field.store && s.flag_field.given) << s.flag;
            if (!s.short_flag.empty()) {
                EXPECT_TRUE(flags.insert(s.short_flag).second) << "duplicate flag " << s.short_flag;
            }
            EXPECT_EQ(find_flag(s.flag), s.is_positional() ? nullptr : &s);
        }
        if (s.kind == SettingKind::integer) {
            EXPECT_LE(s.lo, s.hi) << s.key;
        }
        if (s.kind == SettingKind::choice) {
            EXPECT_FALSE(s.choices.empty()) << s.key;
        }
    }
}

TEST(SettingsTable, EveryKeyHasAFileExampleAndEveryExampleAKey)
{
    for (const Setting& s : settings()) {
        if (s.is_key()) {
            EXPECT_NE(file_example(s.key), nullptr) << "no good/bad example in config_examples.hpp for " << s.key;
        }
    }
    for (const FileExample& e : kFileExamples)
        EXPECT_NE(find_setting(e.key), nullptr) << "example for a key that is no row: " << e.key;
}

TEST(SettingsTable, EveryFlagHasAnExampleAndEveryExampleAFlag)
{
    for (const Setting& s : settings()) {
        if (!s.has_flag())
            continue;
        bool found = false;
        for (const FlagExample& e : kFlagExamples)
            found = found || e.flag == s.flag;
        EXPECT_TRUE(found) << "no good/bad example in kFlagExamples for " << s.flag;
    }
    for (const FlagExample& e : kFlagExamples) {
        bool found = false;
        for (const Setting& s : settings())
            found = found || (s.has_flag() && s.flag == e.flag);
        EXPECT_TRUE(found) << "example for a flag that is no row: " << e.flag;
    }
}

TEST(SettingsTable, AGoodValueInTheFileSetsItsOwnFieldAndNoOther)
{
    const Config defaults = parse_config_text("", "drover.toml");
    for (const FileExample& e : kFileExamples) {
        const Setting* row = find_setting(e.key);
        ASSERT_NE(row, nullptr) << e.key;
        const std::string text = toml_setting(e.key, e.good);
        ASSERT_EQ(file_error(text), "<no ConfigError>") << text;
        const Config c = parse_config_text(text, "drover.toml");
        EXPECT_FALSE(row->field.same(c, defaults)) << e.key << ": the good example is the default, or reaches no field";
        for (const Setting& other : settings()) {
            if (other.is_key() && &other != row) {
                EXPECT_TRUE(other.field.same(c, defaults)) << e.key << " = " << e.good << " also changed " << other.key;
            }
        }
        EXPECT_EQ(c.origins.count(std::string(e.key)), 1u) << e.key;
    }
}

TEST(SettingsTable, ABadValueInTheFileIsRefusedWithItsMessage)
{
    for (const FileExample& e : kFileExamples)
        EXPECT_EQ(file_error(toml_setting(e.key, e.bad)), cat("drover.toml:", e.error)) << e.key << " = " << e.bad;
}

TEST(SettingsTable, AFlagMeansWhatItsKeyMeans)
{
    for (const FlagExample& e : kFlagExamples) {
        const Setting* row = nullptr;
        for (const Setting& s : settings())
            if (s.has_flag() && s.flag == e.flag)
                row = &s;
        ASSERT_NE(row, nullptr) << e.flag;
        const CommandLine cmd = command_line(flag_args(*row, e.good, row->takes_value()));
        EXPECT_TRUE(row->flag_field.given(cmd).has_value()) << e.flag << " was not kept";
        if (!row->is_key())
            continue;
        const FileExample* file = file_example(row->key);
        ASSERT_NE(file, nullptr) << row->key;
        Config from_flag;
        apply_flags(from_flag, cmd);
        finish_config(from_flag);
        const Config from_file = parse_config_text(toml_setting(row->key, file->good), "drover.toml");
        EXPECT_TRUE(row->field.same(from_flag, from_file)) << e.flag << " " << e.good << " is not " << row->key << " = " << file->good;
        EXPECT_EQ(from_flag.origins[std::string(row->key)].where, cat("command line: ", row->flag_name()));
    }
}

TEST(SettingsTable, ABadFlagIsRefusedWithItsMessage)
{
    for (const FlagExample& e : kFlagExamples) {
        const Setting* row = find_flag(e.flag);
        if (!row)  // the positional
            row = find_setting("app");
        ASSERT_NE(row, nullptr) << e.flag;
        EXPECT_EQ(flag_error(flag_args(*row, e.bad, true)), e.error) << e.flag << " " << e.bad;
    }
}

} // namespace
} // namespace drover
