;; imports-drifted-capability (WIT-002) -- built from a copy of the flowctl WIT whose
;; `logging.log-level` has an extra case `fatal`; imports logging.log with that drifted type
;; (declared in capabilities-required: logging).  It never calls it; the processor (unchanged in
;; that copy) is the baseline.

(import "obsrvr:flowctl/logging@1.0.0" "log" (func $logging.log (param i32 i32 i32)))

(data (i32.const 512) "logging")

(func $member.get-info (export "obsrvr:flowctl/processor@1.0.0#get-info") (result i32)
  (call $zoo-info-with-capability (i32.const 512) (i32.const 7)))
