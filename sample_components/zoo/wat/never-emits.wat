;; never-emits (OUT-001) -- declares output-event-types [custom] but never emits anything: every
;; supported, well-formed event is answered ok([]) (what the zoo's baseline did before it emitted
;; derived events).  Unsupported types are skipped and malformed bodies refused with
;; err(processing-failed), as in the baseline: only the outputs are missing.

(func $member.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch") (param $ptr i32) (param $len i32) (result i32)
  (local $i i32)
  (if (call $not-initialized) (then (return (call $err-not-initialized))))
  (block $done
    (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (if (i32.eq (call $check-event (call $event-at (local.get $ptr) (local.get $i))) (i32.const 2))
        (then (return (call $err-malformed))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  ;; the bug: the outputs are never built
  (call $ret-ok-list (global.get $EMPTY_LIST) (i32.const 0)))

;; process-event(e) is process-batch([e]): the event record is a one-element list in place
(func $member.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $ev i32) (result i32)
  (call $member.process-batch (local.get $ev) (i32.const 1)))
