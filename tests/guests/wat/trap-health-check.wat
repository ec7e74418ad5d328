;; trap-health-check -- health-check executes `unreachable`; every other function is the default.

(func $trap.health-check (export "obsrvr:flowctl/processor@1.0.0#health-check") (result i32)
  unreachable)
