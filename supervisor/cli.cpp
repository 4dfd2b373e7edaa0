// The command line: argv into a CommandLine, each value checked as it is
// read so that an error names the flag as the user typed it.
#include <algorithm>
#include <charconv>
#include <string>
#include <string_view>

#include "supervisor/config.hpp"

namespace drover {

namespace {

enum class Option {
    config, bind, workers, metrics, timeout, max_requests, pythonpath, chdir, virtualenv,
    preload, check, version, help,
};

struct OptionDef {
    Option option;
    std::string_view long_name;   // "--workers"
    std::string_view short_name;  // "-w", or empty
    bool takes_value;
};

constexpr OptionDef kOptions[] = {
    {Option::config, "--config", "-c", true},
    {Option::bind, "--bind", "-b", true},
    {Option::workers, "--workers", "-w", true},
    {Option::metrics, "--metrics", "", true},
    {Option::timeout, "--timeout", "", true},
    {Option::max_requests, "--max-requests", "", true},
    {Option::pythonpath, "--pythonpath", "", true},
    {Option::chdir, "--chdir", "", true},
    {Option::virtualenv, "--virtualenv", "", true},
    {Option::preload, "--preload", "", false},
    {Option::check, "--check", "", false},
    {Option::version, "--version", "", false},
    {Option::help, "--help", "-h", false},
};

const OptionDef* find_option(std::string_view name)
{
    for (const OptionDef& def : kOptions)
        if (name == def.long_name || (!def.short_name.empty() && name == def.short_name))
            return &def;
    return nullptr;
}

bool is_option(std::string_view arg)
{
    if (arg.starts_with("--"))
        return find_option(arg.substr(0, arg.find('='))) != nullptr;
    return arg.size() >= 2 && arg.front() == '-' && find_option(arg.substr(0, 2)) != nullptr;
}

[[noreturn]] void fail(std::string_view option, std::string_view what)
{
    throw ConfigError(cat("command line: ", option, ": ", what));
}

uint64_t parse_unsigned(std::string_view option, std::string_view text, uint64_t lo, uint64_t hi, const char* what)
{
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < lo || value > hi)
        fail(option, what);
    return value;
}

std::string not_empty(std::string_view option, std::string_view value)
{
    if (value.empty())
        fail(option, "must not be empty");
    return std::string(value);
}

void apply(CommandLine& cmd, Option option, std::string_view name, std::string_view value)
{
    switch (option) {
    case Option::config:
        cmd.config_file = not_empty(name, value);
        break;
    case Option::bind:
        try {
            parse_listen_address(std::string(value));
        } catch (const std::invalid_argument& e) {
            fail(name, e.what());
        }
        cmd.binds.emplace_back(value);
        break;
    case Option::workers:
        cmd.workers = static_cast<uint32_t>(parse_unsigned(name, value, 1, kMaxWorkerCount,
                                                           "must be an integer from 1 to 1024"));
        break;
    case Option::metrics:
        // "" turns off metrics that the file enabled.
        if (!value.empty()) {
            try {
                parse_metrics_address(std::string(value));
            } catch (const std::invalid_argument& e) {
                fail(name, e.what());
            }
        }
        cmd.metrics_address = std::string(value);
        break;
    case Option::timeout:
        try {
            double seconds = parse_duration(value);
            if (seconds == 0)
                fail(name, "must be greater than 0");
            cmd.timeout = seconds;
        } catch (const std::invalid_argument& e) {
            fail(name, e.what());
        }
        break;
    case Option::max_requests:
        cmd.max_requests = parse_unsigned(name, value, 0, INT64_MAX, "must be a non-negative integer");
        break;
    case Option::pythonpath:
        cmd.pythonpath.push_back(not_empty(name, value));
        break;
    case Option::chdir:
        cmd.chdir = not_empty(name, value);
        break;
    case Option::virtualenv:
        cmd.virtualenv = not_empty(name, value);
        break;
    case Option::preload:
        cmd.preload = true;
        break;
    case Option::check:
        cmd.check = true;
        break;
    case Option::version:
        cmd.version = true;
        break;
    case Option::help:
        cmd.help = true;
        break;
    }
}

} // namespace

CommandLine parse_command_line(int argc, const char* const* argv)
{
    CommandLine cmd;
    bool options_done = false;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (options_done || arg.size() < 2 || arg.front() != '-') {
            if (cmd.callable)
                fail(arg, "unexpected argument (only one MODULE:CALLABLE is allowed)");
            try {
                parse_app_callable(arg);
            } catch (const std::invalid_argument& e) {
                fail("MODULE:CALLABLE", e.what());
            }
            cmd.callable = std::string(arg);
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
        const OptionDef* def = find_option(name);
        if (!def || (!def->takes_value && has_value && !arg.starts_with("--")))
            fail(arg.starts_with("--") ? name : arg, "unknown option");
        if (!def->takes_value && has_value)
            fail(name, "takes no value");
        if (def->takes_value && !has_value) {
            // A flag where the value should be is a forgotten value, not a
            // value that happens to start with '-'.
            if (i + 1 >= argc || is_option(argv[i + 1]))
                fail(name, "requires a value");
            value = argv[++i];
        }
        apply(cmd, def->option, name, value);
        // Help and version answer at once, whatever else the line says.
        if (cmd.help || cmd.version)
            return cmd;
    }
    return cmd;
}

const char* usage_text()
{
    return "usage: drover [-c FILE] [-b [PROTO://]ADDR]... [-w N] [--metrics ADDR] [--timeout S]\n"
           "              [--max-requests N] [--pythonpath DIR]... [--chdir DIR]\n"
           "              [--virtualenv DIR] [--preload] [--check] [--version] [MODULE:CALLABLE]\n"
           "\n"
           "A prefork process manager for Python WSGI applications. Flags override the\n"
           "config file.\n"
           "\n"
           "  MODULE:CALLABLE          the WSGI application, e.g. myapp.wsgi:application\n"
           "                           (the callable defaults to \"application\")\n"
           "  -c, --config FILE        read settings from this TOML file\n"
           "  -b, --bind ADDR          listen on ADDR: [PROTO://]HOST:PORT, [PROTO://][V6]:PORT\n"
           "                           or [PROTO://]unix:PATH; PROTO is http (default),\n"
           "                           fastcgi or scgi. Repeat to listen on several; replaces\n"
           "                           the file's bind list (default http://127.0.0.1:8000)\n"
           "  -w, --workers N          worker processes, 1 to 1024 (default 2)\n"
           "      --metrics ADDR       serve /metrics and /healthz on HOST:PORT (\"\" is off)\n"
           "      --timeout S          one request's wall time: seconds, or 500ms, 30s, 5m, 1h\n"
           "      --max-requests N     replace a worker after N requests (0: never)\n"
           "      --pythonpath DIR     prepend DIR to sys.path; repeatable, replaces the file's list\n"
           "      --chdir DIR          change to DIR before importing the application\n"
           "      --virtualenv DIR     use the packages of the virtualenv in DIR\n"
           "      --preload            import the application once, before forking workers\n"
           "      --check              validate the configuration and exit\n"
           "      --version            print the version and exit\n"
           "  -h, --help               print this help and exit\n"
           "\n"
           "Signals: HUP reload, TERM/INT graceful stop, QUIT immediate stop,\n"
           "TTIN/TTOU one worker more/fewer, USR1 reopen log files.\n";
}

} // namespace drover
