;; oversized-output (OUT-004) -- one output per supported, well-formed event, as the baseline,
;; but each output's data is generic(<a 2 MiB JSON object>): `{"pad":"xxx...x"}`, exactly
;; 2,097,152 bytes.  The number of outputs is normal; their size is not bounded by anything
;; sensible.  The text is built once per call on the heap (which post-return resets) and shared
;; by the call's outputs; the host lifts a 2 MiB string for each of them.

(global $PAD_SIZE i32 (i32.const 2097152))
(data (i32.const 512) "{\"pad\":\"")
(global $pad (mut i32) (i32.const 0))

;; the 2 MiB text of this call (built on first use)
(func $pad-text (result i32)
  (if (i32.eqz (global.get $pad))
    (then
      (global.set $pad
        (call $cabi_realloc (i32.const 0) (i32.const 0) (i32.const 1) (global.get $PAD_SIZE)))
      (memory.copy (global.get $pad) (i32.const 512) (i32.const 8))
      (memory.fill (i32.add (global.get $pad) (i32.const 8)) (i32.const 0x78)
        (i32.sub (global.get $PAD_SIZE) (i32.const 10)))
      (i32.store16 (i32.sub (i32.add (global.get $pad) (global.get $PAD_SIZE)) (i32.const 2))
        (i32.const 0x7d22))))  ;; the closing `"}`
  (global.get $pad))

(func $member.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch") (param $ptr i32) (param $len i32) (result i32)
  (local $i i32) (local $ev i32) (local $check i32) (local $out i32)
  (if (call $not-initialized) (then (return (call $err-not-initialized))))
  (global.set $pad (i32.const 0))  ;; the heap was reset since the last call
  (call $out-begin (local.get $len))
  (block $done
    (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (local.set $ev (call $event-at (local.get $ptr) (local.get $i)))
      (local.set $check (call $check-event (local.get $ev)))
      (if (i32.eq (local.get $check) (i32.const 2)) (then (return (call $err-malformed))))
      (if (i32.eqz (local.get $check))
        (then
          (local.set $out (call $out-push-derived (local.get $ev)))
          ;; data: generic(string) at offset 40
          (i32.store offset=40 (local.get $out) (call $pad-text))
          (i32.store offset=44 (local.get $out) (global.get $PAD_SIZE))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  (call $ret-out))

;; process-event(e) is process-batch([e]): the event record is a one-element list in place
(func $member.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $ev i32) (result i32)
  (call $member.process-batch (local.get $ev) (i32.const 1)))
