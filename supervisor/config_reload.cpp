// The reload diff: each row's field compared between the running Config and
// the fresh one, and put in the column its OnReload says. The master logs it
// and keeps the restart-only values, so that what it runs with is what is
// in effect.
#include "supervisor/config_reload.hpp"

#include "base/log.hpp"
#include "supervisor/config_schema.hpp"

namespace drover {

ReloadDiff diff_for_reload(const Config& old, const Config& fresh)
{
    ReloadDiff diff;
    for (const Setting& s : settings()) {
        if (!s.is_key() || s.field.same(old, fresh))
            continue;
        (s.on_reload == OnReload::restart ? diff.restart : diff.applied).emplace_back(s.key);
    }
    return diff;
}

void log_reload_diff(const ReloadDiff& diff)
{
    for (const std::string& key : diff.restart)
        log_warning("SIGHUP: ", key, " changed; it takes effect at the next restart");
    if (!diff.applied.empty()) {
        std::string keys;
        for (const std::string& key : diff.applied)
            keys += cat(keys.empty() ? "" : ", ", key);
        log_info("SIGHUP: changed and applied: ", keys);
    }
}

void keep_restart_only(Config& fresh, const Config& old)
{
    for (const Setting& s : settings())
        if (s.is_key() && s.on_reload == OnReload::restart)
            s.field.copy(fresh, old);
}

} // namespace drover
