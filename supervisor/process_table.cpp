#include "supervisor/process_table.hpp"

#include <algorithm>

namespace drover {

const char* stop_reason_name(StopReason reason)
{
    switch (reason) {
    case StopReason::none: return "none";
    case StopReason::crash: return "crash";
    case StopReason::timeout: return "timeout";
    case StopReason::max_requests: return "max_requests";
    case StopReason::max_rss: return "max_rss";
    case StopReason::max_lifetime: return "max_lifetime";
    case StopReason::reload: return "reload";
    case StopReason::scale_down: return "scale_down";
    case StopReason::shutdown: return "shutdown";
    }
    return "unknown";
}

ProcessTable::ProcessTable(uint32_t slot_count) : slot_used_(slot_count, false) {}

std::optional<uint32_t> ProcessTable::take_slot()
{
    for (uint32_t i = 0; i < slot_used_.size(); ++i) {
        if (!slot_used_[i]) {
            slot_used_[i] = true;
            return i;
        }
    }
    return std::nullopt;
}

void ProcessTable::add(const WorkerProcess& worker)
{
    slot_used_[worker.slot] = true;
    workers_.push_back(worker);
}

WorkerProcess* ProcessTable::find(pid_t pid)
{
    if (pid <= 0)
        return nullptr;
    auto it = std::find_if(workers_.begin(), workers_.end(), [pid](const WorkerProcess& w) { return w.pid == pid; });
    return it == workers_.end() ? nullptr : &*it;
}

WorkerProcess* ProcessTable::find_slot(uint32_t slot)
{
    auto it = std::find_if(workers_.begin(), workers_.end(), [slot](const WorkerProcess& w) { return w.slot == slot; });
    return it == workers_.end() ? nullptr : &*it;
}

std::optional<WorkerProcess> ProcessTable::remove_slot(uint32_t slot)
{
    WorkerProcess* w = find_slot(slot);
    if (!w)
        return std::nullopt;
    WorkerProcess copy = *w;
    workers_.erase(workers_.begin() + (w - workers_.data()));
    slot_used_[slot] = false;
    return copy;
}

std::optional<WorkerProcess> ProcessTable::remove(pid_t pid)
{
    auto it = std::find_if(workers_.begin(), workers_.end(), [pid](const WorkerProcess& w) { return w.pid == pid; });
    if (it == workers_.end())
        return std::nullopt;
    WorkerProcess w = *it;
    workers_.erase(it);
    slot_used_[w.slot] = false;
    return w;
}

uint32_t ProcessTable::serving(uint32_t generation) const
{
    return static_cast<uint32_t>(std::count_if(workers_.begin(), workers_.end(), [generation](const WorkerProcess& w) {
        return w.generation == generation && !w.stopping() && w.retire_reason == StopReason::none;
    }));
}

} // namespace drover
