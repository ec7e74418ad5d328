;; accepts-process-before-initialize (LIFE-006) -- process-event and process-batch do not check
;; that initialize succeeded: before it they answer ok([]) like after it, instead of
;; err(configuration-error("not initialized")).  The rest is the baseline.

(func $member.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $ev i32) (result i32)
  ;; no initialize gate
  (if (i32.eq (call $check-event (local.get $ev)) (i32.const 2))
    (then (return (call $err-malformed))))
  (call $ret-ok-list (global.get $EMPTY_LIST) (i32.const 0)))

(func $member.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch") (param $ptr i32) (param $len i32) (result i32)
  (local $i i32)
  ;; no initialize gate
  (block $done
    (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (if (i32.eq
            (call $check-event
              (i32.add (local.get $ptr) (i32.mul (local.get $i) (global.get $EVENT_SIZE))))
            (i32.const 2))
        (then (return (call $err-malformed))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  (call $ret-ok-list (global.get $EMPTY_LIST) (i32.const 0)))
