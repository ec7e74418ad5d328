;; trap-initialize -- initialize executes `unreachable`; every other function is the default.

(func $trap.initialize (export "obsrvr:flowctl/processor@1.0.0#initialize") (param i32 i32) (result i32)
  unreachable)
