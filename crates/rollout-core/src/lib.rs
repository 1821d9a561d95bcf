//! Rollout history and diff logic: plain values in, plain values out. No I/O, no clock.
