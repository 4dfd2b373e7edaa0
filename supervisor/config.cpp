// The pipeline: read the file (config_file.cpp), put the flags over it and
// finish (config_merge.cpp), validate. --check and SIGHUP run exactly this.
#include "supervisor/config.hpp"

#include <utility>

#include "supervisor/config_file.hpp"
#include "supervisor/config_merge.hpp"

namespace drover {

Config parse_config_text(const std::string& text, const std::string& file_name)
{
    Config config = read_config_file(text, file_name);
    finish_config(config);
    return config;
}

Config load_config(const CommandLine& cmd)
{
    Config config;
    if (cmd.config_file)
        config = read_config_file(read_whole_file(*cmd.config_file), *cmd.config_file);
    apply_flags(config, cmd);
    finish_config(config);
    validate_config(config);
    return config;
}

} // namespace drover
