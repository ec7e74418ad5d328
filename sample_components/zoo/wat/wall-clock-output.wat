;; wall-clock-output (DET-001, SBX-002, WIT-002) -- imports wasi:clocks/wall-clock@0.2.0 and
;; stamps each output (one derived event per supported input) with the current time in
;; nanoseconds: two fresh instances given the same input answer differently.
;; now: retptr; datetime (size 16, align 8): 0 seconds u64, 8 nanoseconds u32.

(import "wasi:clocks/wall-clock@0.2.0" "now" (func $wall-clock.now (param i32)))

(func $member.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch") (param $ptr i32) (param $len i32) (result i32)
  (local $i i32) (local $ev i32) (local $check i32) (local $out i32)
  (if (call $not-initialized) (then (return (call $err-not-initialized))))
  (call $out-begin (i32.mul (local.get $len) (i32.const 1)))
  (block $done
    (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (local.set $ev (i32.add (local.get $ptr) (i32.mul (local.get $i) (global.get $EVENT_SIZE))))
      (local.set $check (call $check-event (local.get $ev)))
      (if (i32.eq (local.get $check) (i32.const 2)) (then (return (call $err-malformed))))
      (if (i32.eqz (local.get $check))
        (then
          (local.set $out (call $out-push-derived (local.get $ev)))
          (call $wall-clock.now (global.get $SCRATCH))
          (i64.store offset=8 (local.get $out)
            (i64.add
              (i64.mul (i64.load (global.get $SCRATCH)) (i64.const 1000000000))
              (i64.load32_u offset=8 (global.get $SCRATCH))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  (call $ret-out))

;; process-event(e) is process-batch([e]): the event record is a one-element list in place
(func $member.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $ev i32) (result i32)
  (call $member.process-batch (local.get $ev) (i32.const 1)))
