;; trap-get-info -- get-info executes `unreachable`; every other function is the default.

(func $trap.get-info (export "obsrvr:flowctl/processor@1.0.0#get-info") (result i32)
  unreachable)
