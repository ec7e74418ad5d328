;; infinite-loop (LIM-002) -- once initialized, process-event and process-batch never return
;; (`loop br 0`); only the host's per-call timeout (or fuel) stops them.

(func $member.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $ev i32) (result i32)
  (if (call $not-initialized) (then (return (call $err-not-initialized))))
  (loop $forever (br $forever))
  unreachable)

(func $member.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch") (param $ptr i32) (param $len i32) (result i32)
  (if (call $not-initialized) (then (return (call $err-not-initialized))))
  (loop $forever (br $forever))
  unreachable)
