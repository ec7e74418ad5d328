;; lenient-malformed-body (ERR-002) -- an event carrying an operation body that is not a JSON
;; object is silently dropped (no output, and the rest of a batch goes on) instead of being
;; refused with err(processing-failed(...)) or err(invalid-event(...)): the caller never learns
;; that the event was lost.  Well-formed supported events give one derived event, as in the
;; baseline; unsupported event types are skipped.

(func $member.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch") (param $ptr i32) (param $len i32) (result i32)
  (local $i i32) (local $ev i32)
  (if (call $not-initialized) (then (return (call $err-not-initialized))))
  (call $out-begin (local.get $len))
  (block $done
    (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (local.set $ev (call $event-at (local.get $ptr) (local.get $i)))
      ;; the bug: a malformed body (check 2) is skipped like an unsupported type (check 1)
      (if (i32.eqz (call $check-event (local.get $ev)))
        (then (drop (call $out-push-derived (local.get $ev)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  (call $ret-out))

;; process-event(e) is process-batch([e]): the event record is a one-element list in place
(func $member.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $ev i32) (result i32)
  (call $member.process-batch (local.get $ev) (i32.const 1)))
