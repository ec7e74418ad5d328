;; trap-shutdown -- shutdown executes `unreachable`; every other function is the default.

(func $trap.shutdown (export "obsrvr:flowctl/processor@1.0.0#shutdown")
  unreachable)
