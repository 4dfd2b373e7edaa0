#include "supervisor/process_table.hpp"

#include <algorithm>

namespace drover {

bool WorkerProcess::enter(WorkerPhase next, StopReason reason, double now)
{
    if (next == phase) {
        // Only a stop changes its reason (see lifecycle.hpp).
        if (phase != WorkerPhase::stopping || !reason_overrides(why, reason))
            return false;
        why = reason;
        return true;
    }
    if (!worker_may_enter(phase, next))
        return false;
    phase = next;
    why = reason;
    since = now;
    return true;
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
    WorkerProcess* w = find(pid);
    return w ? remove_slot(w->slot) : std::nullopt;
}

uint32_t ProcessTable::remove_unforked(uint32_t generation)
{
    uint32_t removed = 0;
    for (auto it = workers_.begin(); it != workers_.end();) {
        if (it->pid == 0 && it->generation == generation) {
            slot_used_[it->slot] = false;
            it = workers_.erase(it);
            ++removed;
        } else {
            ++it;
        }
    }
    return removed;
}

uint32_t ProcessTable::count(const Filter& filter) const
{
    return static_cast<uint32_t>(std::count_if(workers_.begin(), workers_.end(), filter));
}

uint32_t ProcessTable::active(uint32_t generation) const
{
    return count([generation](const WorkerProcess& w) { return w.generation == generation && w.active(); });
}

uint32_t ProcessTable::staying(uint32_t generation) const
{
    return count([generation](const WorkerProcess& w) { return w.generation == generation && !w.stopping(); });
}

uint32_t ProcessTable::ready_staying(uint32_t generation) const
{
    return count([generation](const WorkerProcess& w) {
        return w.generation == generation && !w.stopping() && w.ready();
    });
}

uint32_t ProcessTable::starting(uint32_t generation) const
{
    return count([generation](const WorkerProcess& w) {
        return w.generation == generation && w.phase == WorkerPhase::starting;
    });
}

uint32_t ProcessTable::stopping_elsewhere(uint32_t generation, StopReason reason) const
{
    return count([generation, reason](const WorkerProcess& w) {
        return w.generation != generation && w.stopping() && w.why == reason;
    });
}

uint32_t ProcessTable::ready() const
{
    return count([](const WorkerProcess& w) { return w.ready(); });
}

WorkerProcess* ProcessTable::newest_active(uint32_t generation, const Filter& filter)
{
    WorkerProcess* newest = nullptr;
    for (WorkerProcess& w : workers_)
        if (w.generation == generation && w.active() && (!filter || filter(w)) &&
            (!newest || w.spawned_at > newest->spawned_at))
            newest = &w;
    return newest;
}

} // namespace drover
