;; traps-on-unknown-event-type (ERR-003, ERR-001) -- an event whose type is not among its
;; supported-event-types (transaction, operation, custom), e.g. `ledger` or `trade`, makes it
;; execute `unreachable` instead of skipping it (ok([])) or refusing it (err(invalid-event)).
;; Otherwise the baseline's answers.

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
        (then unreachable))
      (if (i32.eq (local.get $check) (i32.const 2))
        (then (return (call $err-malformed))))
      (drop (call $out-push-derived (local.get $ev)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  (call $ret-out))

;; process-event(e) is process-batch([e]): the event record is a one-element list in place
(func $member.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $ev i32) (result i32)
  (call $member.process-batch (local.get $ev) (i32.const 1)))
