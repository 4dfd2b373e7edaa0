// What the metrics listener may ask of the master: to drain and to stop
// draining (POST and DELETE /drain). metrics/ may not use supervisor/, so the
// master implements this small interface. A call only records the wish, as a
// signal callback does; the master's next tick acts on it, and the answer
// shows in PoolState::draining from then on.
#pragma once

namespace drover {

class PoolControl {
public:
    virtual ~PoolControl() = default;
    /// Asks the master to drain (/healthz answers 503 while every request is
    /// still served) or to stop draining. `source` names the request in the
    /// master's log and must be a string literal. false when the master
    /// could not take the request now (too many wait for its tick).
    virtual bool request_drain(bool drain, const char* source) = 0;
};

} // namespace drover
