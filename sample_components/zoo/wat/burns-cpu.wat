;; burns-cpu (PERF-001, PERF-002) -- correct answers (the baseline's), but every supported event
;; first runs 2,100,000 rounds of a xorshift64 generator (24 fuel each): about 50 million units of fuel
;; (wasm instructions) per event.

(global $noise (mut i64) (i64.const 88172645463325252))

(func $burn
  (local $x i64) (local $n i32)
  (local.set $x (global.get $noise))
  (local.set $n (i32.const 2100000))
  (loop $round
    (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 13))))
    (local.set $x (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 7))))
    (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 17))))
    (local.set $n (i32.sub (local.get $n) (i32.const 1)))
    (br_if $round (local.get $n)))
  ;; keep the result so the loop is not dead code; it never reaches the output
  (global.set $noise (local.get $x)))

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
          (call $burn)
          (drop (call $out-push-derived (local.get $ev)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  (call $ret-out))

;; process-event(e) is process-batch([e]): the event record is a one-element list in place
(func $member.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $ev i32) (result i32)
  (call $member.process-batch (local.get $ev) (i32.const 1)))
