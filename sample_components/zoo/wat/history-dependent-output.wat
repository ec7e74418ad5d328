;; history-dependent-output (HIST-001) -- each output's id is the input's id + "-" + the number of
;; outputs this instance emitted before it, as 8 decimal digits (`<id>-00000000`, `<id>-00000001`,
;; ...; modulo 10^8): a per-instance counter that nothing resets (not initialize, not shutdown).
;; So the same event gives another output the second time one instance sees it.  Two
;; fresh instances given the same events in the same order agree (DET-001 passes), ids stay
;; unique (OUT-002 passes), and process-batch is the concatenation of process-event on a fresh
;; instance (OUT-003 passes).  Everything else is the baseline.

(global $emitted (mut i32) (i32.const 0))

(func $member.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch") (param $ptr i32) (param $len i32) (result i32)
  (local $i i32) (local $ev i32) (local $check i32) (local $out i32) (local $id i32) (local $id-len i32)
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
          (local.set $out (call $out-push-derived (local.get $ev)))
          ;; id: "<input id>-<counter as 8 digits>" on the heap (lifted before post-return frees it)
          (local.set $id-len (i32.load offset=4 (local.get $ev)))
          (local.set $id (call $cabi_realloc (i32.const 0) (i32.const 0) (i32.const 1)
            (i32.add (local.get $id-len) (i32.const 9))))
          (memory.copy (local.get $id) (i32.load offset=0 (local.get $ev)) (local.get $id-len))
          (i32.store8 (i32.add (local.get $id) (local.get $id-len)) (i32.const 0x2d))
          (call $write-u32
            (i32.add (i32.add (local.get $id) (local.get $id-len)) (i32.const 1))
            (global.get $emitted) (i32.const 8))
          (i32.store offset=0 (local.get $out) (local.get $id))
          (i32.store offset=4 (local.get $out) (i32.add (local.get $id-len) (i32.const 9)))
          (global.set $emitted (i32.add (global.get $emitted) (i32.const 1)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  (call $ret-out))

;; process-event(e) is process-batch([e]): the event record is a one-element list in place
(func $member.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $ev i32) (result i32)
  (call $member.process-batch (local.get $ev) (i32.const 1)))
