// supervisor/cli.cpp: argv into a CommandLine, and its error messages.
#include "supervisor/config.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "supervisor/config_schema.hpp"

namespace drover {
namespace {

CommandLine parse(std::initializer_list<const char*> args)
{
    std::vector<const char*> argv{"drover"};
    argv.insert(argv.end(), args.begin(), args.end());
    return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

std::string error_of(std::initializer_list<const char*> args)
{
    try {
        parse(args);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "<no ConfigError>";
}

TEST(CommandLine, NothingGiven)
{
    CommandLine cmd = parse({});
    EXPECT_FALSE(cmd.config_file);
    EXPECT_TRUE(cmd.binds.empty());
    EXPECT_FALSE(cmd.workers);
    EXPECT_FALSE(cmd.metrics_address);
    EXPECT_FALSE(cmd.timeout);
    EXPECT_FALSE(cmd.max_requests);
    EXPECT_TRUE(cmd.pythonpath.empty());
    EXPECT_FALSE(cmd.chdir);
    EXPECT_FALSE(cmd.virtualenv);
    EXPECT_FALSE(cmd.preload);
    EXPECT_FALSE(cmd.check);
    EXPECT_FALSE(cmd.version);
    EXPECT_FALSE(cmd.help);
    EXPECT_FALSE(cmd.callable);
}

TEST(CommandLine, EveryOption)
{
    CommandLine cmd = parse({"-c", "etc/drover.toml", "-b", "fastcgi://unix:/run/a.sock", "-w", "4",
                             "--metrics", "127.0.0.1:9100", "--timeout", "1m", "--max-requests", "500",
                             "--pythonpath", "src", "--chdir", "/srv/app", "--virtualenv", "/srv/venv",
                             "--preload", "--check", "myapp.wsgi:app"});
    EXPECT_EQ(cmd.config_file, "etc/drover.toml");
    EXPECT_EQ(cmd.binds, (std::vector<std::string>{"fastcgi://unix:/run/a.sock"}));
    EXPECT_EQ(cmd.workers, 4u);
    EXPECT_EQ(cmd.metrics_address, "127.0.0.1:9100");
    ASSERT_TRUE(cmd.timeout);
    EXPECT_DOUBLE_EQ(*cmd.timeout, 60.0);
    EXPECT_EQ(cmd.max_requests, 500u);
    EXPECT_EQ(cmd.pythonpath, (std::vector<std::string>{"src"}));
    EXPECT_EQ(cmd.chdir, "/srv/app");
    EXPECT_EQ(cmd.virtualenv, "/srv/venv");
    EXPECT_TRUE(cmd.preload);
    EXPECT_TRUE(cmd.check);
    EXPECT_FALSE(cmd.version);
    EXPECT_EQ(cmd.callable, "myapp.wsgi:app");
}

TEST(CommandLine, LongFormsAndEqualsValues)
{
    CommandLine cmd = parse({"--config=drover.toml", "--bind", "[::1]:8000", "--bind=scgi://127.0.0.1:9000",
                             "--workers=8", "--timeout=500ms", "--max-requests=0", "--metrics=",
                             "--pythonpath=a", "--chdir=/x", "--virtualenv=/v"});
    EXPECT_EQ(cmd.config_file, "drover.toml");
    EXPECT_EQ(cmd.binds, (std::vector<std::string>{"[::1]:8000", "scgi://127.0.0.1:9000"}));
    EXPECT_EQ(cmd.workers, 8u);
    ASSERT_TRUE(cmd.timeout);
    EXPECT_DOUBLE_EQ(*cmd.timeout, 0.5);
    EXPECT_EQ(cmd.max_requests, 0u);
    EXPECT_EQ(cmd.metrics_address, "");  // given, and off
    EXPECT_EQ(cmd.pythonpath, (std::vector<std::string>{"a"}));
    EXPECT_EQ(cmd.chdir, "/x");
    EXPECT_EQ(cmd.virtualenv, "/v");
}

TEST(CommandLine, AttachedShortValues)
{
    CommandLine cmd = parse({"-w3", "-cdrover.toml", "-b127.0.0.1:80"});
    EXPECT_EQ(cmd.workers, 3u);
    EXPECT_EQ(cmd.config_file, "drover.toml");
    EXPECT_EQ(cmd.binds, (std::vector<std::string>{"127.0.0.1:80"}));
}

TEST(CommandLine, RepeatedOptionsAccumulateInOrder)
{
    CommandLine cmd = parse({"-b", "unix:/run/a.sock", "-b", "http://0.0.0.0:80", "--bind", "fastcgi://[::]:9000",
                             "--pythonpath", "one", "--pythonpath", "two"});
    EXPECT_EQ(cmd.binds, (std::vector<std::string>{"unix:/run/a.sock", "http://0.0.0.0:80", "fastcgi://[::]:9000"}));
    EXPECT_EQ(cmd.pythonpath, (std::vector<std::string>{"one", "two"}));
    // A single-valued option given twice keeps the last.
    EXPECT_EQ(parse({"-w", "2", "-w", "5"}).workers, 5u);
}

TEST(CommandLine, HelpAndVersion)
{
    EXPECT_TRUE(parse({"-h"}).help);
    EXPECT_TRUE(parse({"--help"}).help);
    EXPECT_TRUE(parse({"--version"}).version);
    // They answer at once: what follows is not looked at.
    EXPECT_TRUE(parse({"--help", "--frob"}).help);
    EXPECT_TRUE(parse({"--version", "-w", "0"}).version);
}

TEST(CommandLine, DoubleDashEndsOptions)
{
    EXPECT_EQ(parse({"-w", "2", "--", "app:main"}).callable, "app:main");
    EXPECT_EQ(error_of({"--", "--preload"}),
              "command line: MODULE:CALLABLE: must be MODULE:CALLABLE with dotted Python names, like \"myapp.wsgi:application\", got \"--preload\"");
}

TEST(CommandLine, UnknownOption)
{
    EXPECT_EQ(error_of({"--frob"}), "command line: --frob: unknown option");
    EXPECT_EQ(error_of({"--frob=1"}), "command line: --frob: unknown option");
    EXPECT_EQ(error_of({"-x"}), "command line: -x: unknown option");
    EXPECT_EQ(error_of({"-hx"}), "command line: -hx: unknown option");
    EXPECT_EQ(error_of({"--work=2"}), "command line: --work: unknown option");
}

TEST(CommandLine, MissingValue)
{
    EXPECT_EQ(error_of({"-w"}), "command line: -w: requires a value");
    EXPECT_EQ(error_of({"--bind"}), "command line: --bind: requires a value");
    EXPECT_EQ(error_of({"app:main", "--timeout"}), "command line: --timeout: requires a value");
    EXPECT_EQ(error_of({"-c", "--check"}), "command line: -c: requires a value");
    EXPECT_EQ(error_of({"-c", "--workers=2"}), "command line: -c: requires a value");
    EXPECT_EQ(error_of({"--config="}), "command line: --config: must not be empty");
}

TEST(CommandLine, FlagTakesNoValue)
{
    EXPECT_EQ(error_of({"--preload=yes"}), "command line: --preload: takes no value");
    EXPECT_EQ(error_of({"--check=1"}), "command line: --check: takes no value");
}

TEST(CommandLine, TwoPositionals)
{
    EXPECT_EQ(error_of({"a:app", "b:app"}), "command line: b:app: unexpected argument (only one MODULE:CALLABLE is allowed)");
}

TEST(CommandLine, BadValues)
{
    EXPECT_EQ(error_of({"-w", "0"}), "command line: -w: must be an integer from 1 to 1024");
    EXPECT_EQ(error_of({"-w", "four"}), "command line: -w: must be an integer from 1 to 1024");
    EXPECT_EQ(error_of({"--workers=2000"}), "command line: --workers: must be an integer from 1 to 1024");
    EXPECT_EQ(error_of({"-w", "3x"}), "command line: -w: must be an integer from 1 to 1024");
    EXPECT_EQ(error_of({"--timeout", "0"}), "command line: --timeout: must be greater than 0");
    EXPECT_EQ(error_of({"--timeout", "-1"}), "command line: --timeout: must not be negative");
    EXPECT_EQ(error_of({"--timeout", "soon"}),
              "command line: --timeout: must be a duration: seconds, or a number with a unit like \"500ms\", \"30s\", \"5m\", \"1h\"");
    EXPECT_EQ(error_of({"--max-requests", "-3"}), "command line: --max-requests: must be a non-negative integer");
    EXPECT_EQ(error_of({"-b", "ftp://x:1"}), "command line: -b: unknown protocol 'ftp' (use http, fastcgi or scgi)");
    EXPECT_EQ(error_of({"--bind=127.0.0.1"}), "command line: --bind: missing port");
    EXPECT_EQ(error_of({"--metrics", "unix:/run/m.sock"}), "command line: --metrics: must be HOST:PORT or [V6]:PORT");
    EXPECT_EQ(error_of({"--metrics", "[::1]:99999"}), "command line: --metrics: port out of range (1 to 65535): 99999");
    EXPECT_EQ(error_of({"--chdir", ""}), "command line: --chdir: must not be empty");
    EXPECT_EQ(error_of({"my-app"}),
              "command line: MODULE:CALLABLE: must be MODULE:CALLABLE with dotted Python names, like \"myapp.wsgi:application\", got \"my-app\"");
}

TEST(CommandLine, UsageNamesEveryOption)
{
    std::string usage = usage_text();
    EXPECT_EQ(usage.rfind("usage: drover ", 0), 0u);
    for (const char* option : {"-c, --config", "-b, --bind", "-w, --workers", "--metrics", "--timeout", "--max-requests",
                               "--pythonpath", "--chdir", "--virtualenv", "--preload", "--check", "--version",
                               "-h, --help", "MODULE:CALLABLE"})
        EXPECT_NE(usage.find(option), std::string::npos) << option;
}

TEST(CommandLine, UsageIsWrittenFromTheSettingsTable)
{
    const std::string usage = usage_text();
    std::istringstream lines(usage);
    for (std::string line; std::getline(lines, line);)
        EXPECT_LE(line.size(), 80u) << line;
    // Every key of the file, with its default, after the flags.
    const auto keys = usage.find("Keys of the configuration file");
    ASSERT_NE(keys, std::string::npos);
    for (const Setting& s : settings()) {
        if (s.is_key()) {
            // A key too long for the column has its help on the next line.
            const std::string row = "\n  " + std::string(s.key);
            EXPECT_TRUE(usage.find(row + " ", keys) != std::string::npos ||
                        usage.find(row + "\n", keys) != std::string::npos)
                << s.key;
        }
    }
    // Help is wrapped: look for phrases with the line breaks taken out.
    std::string flat;
    for (char c : usage)
        if (c != ' ' && c != '\n')
            flat += c;
    EXPECT_NE(flat.find("(1to1024;default2)"), std::string::npos) << "workers' bounds and default";
    EXPECT_NE(flat.find("1Kto1M;default\"64K\")"), std::string::npos) << "max_header_size's bounds and default";
    // The synopsis leaves out --help itself and puts the positional last.
    const std::string synopsis = usage.substr(0, usage.find("\n\n"));
    EXPECT_EQ(synopsis.find("-h"), std::string::npos) << synopsis;
    EXPECT_TRUE(synopsis.ends_with("[MODULE:CALLABLE]")) << synopsis;
}

} // namespace
} // namespace drover
