;; wrong-case-for-unknown-type (ERR-003) -- an event whose type is not among its
;; supported-event-types (e.g. `ledger`, `trade`) is refused with err(processing-failed(...))
;; instead of being skipped (ok([])) or refused with err(invalid-event(...)).  Otherwise the
;; baseline's answers.

(data (i32.const 512) "unsupported event type")

(func $member.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch") (param $ptr i32) (param $len i32) (result i32)
  (local $i i32) (local $ev i32) (local $check i32)
  (if (call $not-initialized) (then (return (call $err-not-initialized))))
  (call $out-begin (local.get $len))
  (block $done
    (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (local.set $ev (call $event-at (local.get $ptr) (local.get $i)))
      (local.set $check (call $check-event (local.get $ev)))
      (if (i32.eq (local.get $check) (i32.const 1))
        (then (return (call $ret-err (i32.const 1) (i32.const 512) (i32.const 22)))))
      (if (i32.eq (local.get $check) (i32.const 2))
        (then (return (call $err-malformed))))
      (drop (call $out-push-derived (local.get $ev)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  (call $ret-out))

;; process-event(e) is process-batch([e]): the event record is a one-element list in place
(func $member.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $ev i32) (result i32)
  (call $member.process-batch (local.get $ev) (i32.const 1)))
