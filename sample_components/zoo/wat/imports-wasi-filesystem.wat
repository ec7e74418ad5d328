;; imports-wasi-filesystem (SBX-002, WIT-002) -- imports wasi:filesystem/preopens@0.2.0 and calls
;; `get-directories` for every supported event (ignoring the answer): a flowctl processor reaches
;; the world only through granted flowctl capabilities, never WASI.  Its answers are the
;; baseline's (one derived event per supported, well-formed event).

(import "wasi:filesystem/preopens@0.2.0" "get-directories" (func $get-directories (param i32)))

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
          ;; list<tuple<descriptor, string>> written at $SCRATCH; ignored
          (call $get-directories (global.get $SCRATCH))
          (drop (call $out-push-derived (local.get $ev)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  (call $ret-out))

;; process-event(e) is process-batch([e]): the event record is a one-element list in place
(func $member.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $ev i32) (result i32)
  (call $member.process-batch (local.get $ev) (i32.const 1)))
