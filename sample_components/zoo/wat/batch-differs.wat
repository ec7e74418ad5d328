;; batch-differs (OUT-003) -- emits one event per supported input (derived from it: same id and
;; timestamp, generic data, type custom); process-event is right, but process-batch stops one
;; event short (an off-by-one), so a batch never equals the concatenation of process-event.

;; the outputs for the first $count events of the list ($ptr, ...)
(func $emit (param $ptr i32) (param $count i32) (result i32)
  (local $i i32) (local $ev i32) (local $check i32)
  (if (call $not-initialized) (then (return (call $err-not-initialized))))
  (call $out-begin (local.get $count))
  (block $done
    (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
      (local.set $ev (i32.add (local.get $ptr) (i32.mul (local.get $i) (global.get $EVENT_SIZE))))
      (local.set $check (call $check-event (local.get $ev)))
      (if (i32.eq (local.get $check) (i32.const 2)) (then (return (call $err-malformed))))
      (if (i32.eqz (local.get $check))
        (then (drop (call $out-push-derived (local.get $ev)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  (call $ret-out))

(func $member.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $ev i32) (result i32)
  (call $emit (local.get $ev) (i32.const 1)))

(func $member.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch") (param $ptr i32) (param $len i32) (result i32)
  ;; the bug: `len - 1` (for an empty batch the loop bound wraps to 0 anyway)
  (call $emit (local.get $ptr)
    (select (i32.sub (local.get $len) (i32.const 1)) (i32.const 0) (local.get $len))))
