;; trap-process-event -- process-event executes `unreachable`; every other function is the default.

(func $trap.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param i32) (result i32)
  unreachable)
