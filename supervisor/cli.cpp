// The command line: argv into a CommandLine, each value checked as it is
// read (with the same grammar as the file) so that an error names the flag
// as the user typed it; and --help, written from the same rows.
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/config.hpp"
#include "supervisor/config_schema.hpp"
#include "supervisor/config_values.hpp"

namespace drover {

namespace {

constexpr size_t kWidth = 80;
constexpr size_t kHelpColumn = 27;

bool is_option(std::string_view arg)
{
    if (arg.starts_with("--"))
        return find_flag(arg.substr(0, arg.find('='))) != nullptr;
    return arg.size() >= 2 && arg.front() == '-' && find_flag(arg.substr(0, 2)) != nullptr;
}

[[noreturn]] void fail(std::string_view option, std::string_view what)
{
    throw ConfigError(cat("command line: ", option, ": ", what));
}

/// Checks the value with the kind's grammar and keeps it in cmd. Paths are
/// kept as typed: the merge resolves them against the current directory.
void apply(CommandLine& cmd, const Setting& s, std::string_view name, std::string_view value)
{
    SettingValue parsed;
    if (s.takes_value()) {
        try {
            parsed = parse_setting_text(s, value, {});
        } catch (const std::invalid_argument& e) {
            fail(name, e.what());
        }
    }
    s.flag_field.store(cmd, value, parsed);
}

const Setting& positional()
{
    for (const Setting& s : settings())
        if (s.is_positional())
            return s;
    throw std::logic_error("the settings table has no positional argument");
}

// ---------------------------------------------------------------- --help

std::vector<std::string> words(std::string_view text)
{
    std::vector<std::string> out;
    while (!text.empty()) {
        size_t space = text.find(' ');
        out.emplace_back(text.substr(0, space));
        text = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
    }
    return out;
}

/// Tokens (words, or whole "[--chdir DIR]" items) wrapped to kWidth, the
/// lines after the first indented by indent.
void wrap(std::string& out, size_t column, const std::vector<std::string>& tokens, size_t indent)
{
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (i > 0 && column + 1 + tokens[i].size() > kWidth) {
            out += '\n';
            out.append(indent, ' ');
            column = indent;
        } else if (i > 0) {
            out += ' ';
            ++column;
        }
        out += tokens[i];
        column += tokens[i].size();
    }
    out += '\n';
}

/// "  -w, --workers N          help" with the help wrapped in its column.
void help_line(std::string& out, std::string_view left, std::string_view help)
{
    out += left;
    size_t column = left.size();
    if (column + 2 > kHelpColumn) {
        out += '\n';
        column = 0;
    }
    out.append(kHelpColumn - column, ' ');
    wrap(out, kHelpColumn, words(help), kHelpColumn);
}

/// The row's help with what the row knows besides: bounds and default.
std::string full_help(const Setting& s)
{
    std::vector<std::string> more;
    if (s.kind == SettingKind::integer)
        more.push_back(cat(s.lo, " to ", s.hi));
    if (s.kind == SettingKind::size && s.hi != 0)
        more.push_back(cat(size_text(s.lo), " to ", size_text(s.hi)));
    const std::string_view d = s.default_text;
    if (!d.empty() && d != "false" && d != "[]" && d != "\"\"")
        more.push_back(cat("default ", d));
    std::string help(s.help);
    for (size_t i = 0; i < more.size(); ++i)
        help += cat(i == 0 ? " (" : "; ", more[i]);
    return more.empty() ? help : help + ")";
}

std::string synopsis()
{
    std::vector<std::string> items;
    std::vector<std::string> positionals;
    for (const Setting& s : settings()) {
        if (!s.has_flag() || s.flag == "--help")  // the synopsis is what --help shows
            continue;
        if (s.is_positional()) {
            positionals.push_back(cat("[", s.flag, "]"));
            continue;
        }
        std::string metavar(s.metavar);
        if (s.kind == SettingKind::address_list)
            metavar = "[PROTO://]" + metavar;
        items.push_back(cat("[", s.flag_name(), metavar.empty() ? "" : " ", metavar, "]", s.is_list() ? "..." : ""));
    }
    // Positionals go last, as in every synopsis.
    items.insert(items.end(), positionals.begin(), positionals.end());
    items.insert(items.begin(), "usage: drover");
    std::string out;
    wrap(out, 0, items, std::string_view("usage: drover ").size());
    return out;
}

std::string make_usage()
{
    std::string out = synopsis();
    out += "\nA prefork process manager for Python WSGI applications. Flags override the\nconfig file.\n\n";
    for (const Setting& s : settings()) {
        if (!s.has_flag())
            continue;
        std::string left = s.is_positional()      ? cat("  ", s.flag)
                           : s.short_flag.empty() ? cat("      ", s.flag)
                                                  : cat("  ", s.short_flag, ", ", s.flag);
        if (!s.metavar.empty())
            left += cat(' ', s.metavar);
        help_line(out, left, full_help(s));
    }
    out += "\nKeys of the configuration file (the README says more about each):\n";
    for (const Setting& s : settings())
        if (s.is_key())
            help_line(out, cat("  ", s.key), full_help(s));
    out += "\nSignals: HUP reload, TERM/INT graceful stop, QUIT immediate stop,\n"
           "TTIN/TTOU one worker more/fewer, USR1 reopen log files.\n";
    return out;
}

} // namespace

CommandLine parse_command_line(int argc, const char* const* argv)
{
    CommandLine cmd;
    const Setting& app = positional();
    bool options_done = false;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (options_done || arg.size() < 2 || arg.front() != '-') {
            if (app.flag_field.given(cmd))
                fail(arg, cat("unexpected argument (only one ", app.flag, " is allowed)"));
            apply(cmd, app, app.flag, arg);
            continue;
        }
        if (arg == "--") {
            options_done = true;
            continue;
        }

        // "--name=value", "--name value", "-w4", "-w 4"
        std::string_view name = arg;
        std::string_view value;
        bool has_value = false;
        if (arg.starts_with("--")) {
            if (auto eq = arg.find('='); eq != std::string_view::npos) {
                name = arg.substr(0, eq);
                value = arg.substr(eq + 1);
                has_value = true;
            }
        } else if (arg.size() > 2) {
            name = arg.substr(0, 2);
            value = arg.substr(2);
            has_value = true;
        }
        const Setting* s = find_flag(name);
        if (!s || (!s->takes_value() && has_value && !arg.starts_with("--")))
            fail(arg.starts_with("--") ? name : arg, "unknown option");
        if (!s->takes_value() && has_value)
            fail(name, "takes no value");
        if (s->takes_value() && !has_value) {
            // A flag where the value should be is a forgotten value, not a
            // value that happens to start with '-'.
            if (i + 1 >= argc || is_option(argv[i + 1]))
                fail(name, "requires a value");
            value = argv[++i];
        }
        apply(cmd, *s, name, value);
        // Help and version answer at once, whatever else the line says.
        if (cmd.help || cmd.version)
            return cmd;
    }
    return cmd;
}

const char* usage_text()
{
    static const std::string usage = make_usage();
    return usage.c_str();
}

} // namespace drover
