;; trap-process-batch -- process-batch executes `unreachable`; every other function is the default.

(func $trap.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch") (param i32 i32) (result i32)
  unreachable)
