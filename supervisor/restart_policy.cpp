#include "supervisor/restart_policy.hpp"

#include <algorithm>

namespace drover {

void CrashBackoff::failure(double now)
{
    ++failures_;
    delay_ = failures_ == 1 ? initial_ : std::min(delay_ * 2, cap_);
    retry_at_ = now + delay_;
}

void CrashBackoff::success()
{
    failures_ = 0;
    delay_ = 0;
    retry_at_ = 0;
}

} // namespace drover
