;; slow-finite-loop (LIM-001, LIM-002) -- correct answers (the baseline's), but every supported
;; event first counts down from 3e10: a finite loop of tens of seconds (1e9 rounds took 1.5 s
;; under the reference host on the development machine), past the default 10 s
;; execution_timeout and any per-call timeout a pipeline sets.

(global $SLOW_ROUNDS i64 (i64.const 30_000_000_000))
(global $slow-sink (mut i64) (i64.const 0))

(func $slow
  (local $n i64)
  (local.set $n (global.get $SLOW_ROUNDS))
  (loop $round
    (local.set $n (i64.sub (local.get $n) (i64.const 1)))
    (br_if $round (i64.ne (local.get $n) (i64.const 0))))
  (global.set $slow-sink (local.get $n)))

(func $member.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch") (param $ptr i32) (param $len i32) (result i32)
  (local $i i32) (local $ev i32) (local $check i32)
  (if (call $not-initialized) (then (return (call $err-not-initialized))))
  (call $out-begin (local.get $len))
  (block $done
    (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (local.set $ev (call $event-at (local.get $ptr) (local.get $i)))
      (local.set $check (call $check-event (local.get $ev)))
      (if (i32.eq (local.get $check) (i32.const 2)) (then (return (call $err-malformed))))
      (if (i32.eqz (local.get $check))
        (then
          (call $slow)
          (drop (call $out-push-derived (local.get $ev)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  (call $ret-out))

;; process-event(e) is process-batch([e]): the event record is a one-element list in place
(func $member.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $ev i32) (result i32)
  (call $member.process-batch (local.get $ev) (i32.const 1)))
