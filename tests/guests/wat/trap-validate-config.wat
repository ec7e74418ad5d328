;; trap-validate-config -- validate-config executes `unreachable`; every other function is the default.

(func $trap.validate-config (export "obsrvr:flowctl/processor@1.0.0#validate-config") (param i32 i32) (result i32)
  unreachable)
