// The settings table against README.md: the "Configuration reference"
// tables list exactly the keys of the table, each with the row's default
// (and that default, read as TOML, is the value drover really uses), its
// reload paragraph names exactly the restart-only keys, and the "Command
// line" section shows the synopsis --help prints and documents every flag
// with its metavar. A key or flag cannot exist undocumented, nor
// a documented one be missing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/config.hpp"
#include "supervisor/config_schema.hpp"

namespace drover {
namespace {

namespace fs = std::filesystem;

/// The source tree's root. The test runs from the build tree; __FILE__ is
/// this file as the compiler was given it, relative to the build root (the
/// directory of build.ninja), or absolute.
fs::path source_root()
{
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    for (fs::path dir = exe.parent_path(); !dir.empty(); dir = dir.parent_path()) {
        if (fs::exists(dir / "build.ninja")) {
            fs::path self = (dir / __FILE__).lexically_normal();  // .../tests/unit/supervisor/this.cpp
            return self.parent_path().parent_path().parent_path().parent_path();
        }
        if (dir == dir.root_path())
            break;
    }
    return fs::path(__FILE__).parent_path().parent_path().parent_path().parent_path();
}

std::string read_readme()
{
    const fs::path path = source_root() / "README.md";
    std::ifstream in(path);
    if (!in)
        throw std::runtime_error("cannot read " + path.string());
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

/// The lines of the "## TITLE" section, up to the next "## ".
std::vector<std::string> section(const std::string& readme, std::string_view title)
{
    std::vector<std::string> out;
    std::istringstream in(readme);
    bool inside = false;
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with("## "))
            inside = line == cat("## ", title);
        else if (inside)
            out.push_back(line);
    }
    return out;
}

std::string trim(std::string_view s)
{
    while (!s.empty() && s.front() == ' ')
        s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ')
        s.remove_suffix(1);
    return std::string(s);
}

/// The body rows of every markdown table in lines, as trimmed cells.
std::vector<std::vector<std::string>> table_rows(const std::vector<std::string>& lines)
{
    std::vector<std::vector<std::string>> rows;
    bool header = true;
    for (const std::string& line : lines) {
        if (!line.starts_with('|')) {
            header = true;
            continue;
        }
        if (header) {  // the header row, then the |---| line
            if (line.starts_with("|---"))
                header = false;
            continue;
        }
        std::vector<std::string> cells;
        std::string_view rest = std::string_view(line).substr(1);
        for (auto bar = rest.find('|'); bar != std::string_view::npos; bar = rest.find('|')) {
            cells.push_back(trim(rest.substr(0, bar)));
            rest.remove_prefix(bar + 1);
        }
        rows.push_back(std::move(cells));
    }
    return rows;
}

/// The `code` spans of a cell, in order.
std::vector<std::string> code_spans(std::string_view cell)
{
    std::vector<std::string> out;
    for (auto open = cell.find('`'); open != std::string_view::npos; open = cell.find('`')) {
        auto close = cell.find('`', open + 1);
        if (close == std::string_view::npos)
            break;
        out.emplace_back(cell.substr(open + 1, close - open - 1));
        cell.remove_prefix(close + 1);
    }
    return out;
}

/// "`min_spare` / `max_spare`" -> its parts; "`[log] error`" is "log.error".
std::vector<std::string> split_alternatives(std::string_view cell)
{
    std::vector<std::string> out;
    for (;;) {
        auto slash = cell.find(" / ");
        out.push_back(trim(cell.substr(0, slash)));
        if (slash == std::string_view::npos)
            return out;
        cell.remove_prefix(slash + 3);
    }
}

std::string dotted_key(const std::string& span)
{
    if (span.starts_with('[')) {
        auto close = span.find("] ");
        if (close != std::string::npos)
            return cat(span.substr(1, close - 1), '.', span.substr(close + 2));
    }
    return span;
}

/// Key -> the README's default for it: the first code span of its default
/// cell, or "" for "—" (none).
std::map<std::string, std::string> readme_keys(const std::string& readme)
{
    std::map<std::string, std::string> out;
    for (const auto& row : table_rows(section(readme, "Configuration reference"))) {
        if (row.size() < 2)
            continue;
        std::vector<std::string> keys = split_alternatives(row[0]);
        std::vector<std::string> defaults = split_alternatives(row[1]);
        for (size_t i = 0; i < keys.size(); ++i) {
            const std::string& d = defaults.size() == keys.size() ? defaults[i] : defaults.front();
            std::vector<std::string> key_span = code_spans(keys[i]);
            std::vector<std::string> default_span = code_spans(d);
            if (key_span.size() != 1)
                throw std::runtime_error("README: a key cell that is not one `key`: " + row[0]);
            out[dotted_key(key_span.front())] = d == "—" || default_span.empty() ? "" : default_span.front();
        }
    }
    return out;
}

std::string squeeze(std::string_view text)
{
    std::string out;
    for (char c : text) {
        if (c == ' ' || c == '\n') {
            if (!out.empty() && out.back() != ' ')
                out += ' ';
        } else {
            out += c;
        }
    }
    return trim(out);
}

class Readme : public ::testing::Test {
protected:
    static void SetUpTestSuite() { text_ = read_readme(); }
    static std::string text_;
};
std::string Readme::text_;

TEST_F(Readme, ListsExactlyTheKeysOfTheTable)
{
    const std::map<std::string, std::string> documented = readme_keys(text_);
    ASSERT_GT(documented.size(), 30u) << "the Configuration reference tables were not found";
    for (const Setting& s : settings()) {
        if (s.is_key()) {
            EXPECT_EQ(documented.count(std::string(s.key)), 1u) << s.key << " is not in README.md's Configuration reference";
        }
    }
    for (const auto& [key, _] : documented)
        EXPECT_NE(find_setting(key), nullptr) << "README.md documents " << key << ", which is no setting";
}

TEST_F(Readme, ShowsEachKeysDefault)
{
    const std::map<std::string, std::string> documented = readme_keys(text_);
    for (const Setting& s : settings()) {
        auto it = documented.find(std::string(s.key));
        if (!s.is_key() || it == documented.end())
            continue;
        EXPECT_EQ(it->second, s.default_text) << s.key << ": README.md's default differs from the table's ('"
                                               << s.default_text << "'; \"—\" in README when there is none)";
    }
}

TEST_F(Readme, TheDocumentedDefaultIsTheRealOne)
{
    const Config defaults = parse_config_text("", "drover.toml");
    for (const Setting& s : settings()) {
        if (!s.is_key() || s.default_text.empty())
            continue;
        auto dot = s.key.find('.');
        std::string text = dot == std::string_view::npos
                               ? cat(s.key, " = ", s.default_text, "\n")
                               : cat("[", s.key.substr(0, dot), "]\n", s.key.substr(dot + 1), " = ", s.default_text, "\n");
        Config written = parse_config_text(text, "drover.toml");
        EXPECT_TRUE(s.field.same(written, defaults)) << s.key << " = " << s.default_text << " is not what drover uses by default";
    }
}

TEST_F(Readme, NamesTheKeysAReloadLeavesForARestart)
{
    // The paragraph "A reload (`SIGHUP`) applies every changed key, ...
    // except ...: `bind`, ...".
    std::string paragraph;
    for (const std::string& line : section(text_, "Configuration reference")) {
        if (line.starts_with("A reload (`SIGHUP`)"))
            paragraph = line;
        else if (!paragraph.empty() && line.empty())
            break;
        else if (!paragraph.empty())
            paragraph += " " + line;
    }
    ASSERT_FALSE(paragraph.empty()) << "README.md's Configuration reference has no \"A reload (`SIGHUP`)\" paragraph";
    std::set<std::string> documented;
    for (const std::string& span : code_spans(paragraph))
        if (!span.starts_with("SIGHUP"))
            documented.insert(dotted_key(span));
    std::set<std::string> restart;
    for (const Setting& s : settings())
        if (s.is_key() && s.on_reload == OnReload::restart)
            restart.emplace(s.key);
    EXPECT_EQ(documented, restart);
}

TEST_F(Readme, DocumentsEveryFlagWithItsValue)
{
    std::string cells;
    std::set<std::string> documented;
    for (const auto& row : table_rows(section(text_, "Command line"))) {
        ASSERT_FALSE(row.empty());
        cells += row[0] + "\n";
        for (const std::string& span : code_spans(row[0]))
            for (const std::string& word : split_alternatives(span))  // "-h`/`--help" is two spans
                documented.insert(word.substr(0, word.find(' ')));
    }
    ASSERT_FALSE(documented.empty()) << "the Command line table was not found";
    std::set<std::string> flags;
    for (const Setting& s : settings()) {
        if (!s.has_flag())
            continue;
        flags.insert(std::string(s.flag));
        EXPECT_EQ(documented.count(std::string(s.flag)), 1u) << s.flag << " is not in README.md's Command line table";
        if (!s.short_flag.empty()) {
            flags.insert(std::string(s.short_flag));
            EXPECT_EQ(documented.count(std::string(s.short_flag)), 1u) << s.short_flag << " is not in README.md";
        }
        if (!s.metavar.empty()) {
            EXPECT_NE(cells.find(cat('`', s.flag, ' ', s.metavar, '`')), std::string::npos)
                << "README.md should show `" << s.flag << ' ' << s.metavar << '`';
        }
    }
    for (const std::string& flag : documented)
        EXPECT_EQ(flags.count(flag), 1u) << "README.md documents " << flag << ", which is no flag";
}

TEST_F(Readme, ShowsTheSynopsisHelpPrints)
{
    std::vector<std::string> lines = section(text_, "Command line");
    std::string readme_synopsis;
    bool in_code = false;
    for (const std::string& line : lines) {
        if (line.starts_with("```")) {
            if (in_code)
                break;
            in_code = true;
        } else if (in_code) {
            readme_synopsis += line + "\n";
        }
    }
    std::string usage = usage_text();
    std::string help_synopsis = usage.substr(0, usage.find("\n\n"));
    ASSERT_TRUE(help_synopsis.starts_with("usage: "));
    EXPECT_EQ(squeeze(readme_synopsis), squeeze(help_synopsis.substr(7)));
}

} // namespace
} // namespace drover
