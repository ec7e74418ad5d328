;; traps-in-batch (OUT-003, ERR-001) -- process-batch executes `unreachable` when it is given
;; more than one event (a batch path that "panics"), while process-event (the baseline's) answers
;; every event: a batch never equals the concatenation of process-event.  A batch of zero or one
;; event is answered as by the baseline.

(func $member.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch") (param $ptr i32) (param $len i32) (result i32)
  (if (i32.gt_u (local.get $len) (i32.const 1)) (then unreachable))
  (call $zoo-process (local.get $ptr) (local.get $len)))
