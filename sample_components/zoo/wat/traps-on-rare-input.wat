;; traps-on-rare-input (ERR-001) -- a supported event carrying an operation of type `inflation`
;; (operation-type case 11; a stellar-operation event, or any operation of a stellar-transaction)
;; makes it execute `unreachable` (an unhandled match arm), whatever the operation bodies hold.
;; No event of fixtures/events/*.jsonl has an inflation operation, so every fixture event is
;; answered as by the baseline: only a well-typed input the fixtures lack shows the trap.
;; stellar-operation (size 48, align 4): operation-type (a variant without payloads: one u8
;; discriminant) at +0; as the event's data it is at event offset 40.

(global $INFLATION i32 (i32.const 11))

;; 1 if the event's data is or holds an operation of type inflation
(func $rare-operation? (param $ev i32) (result i32)
  (local $disc i32) (local $op i32) (local $end i32)
  (local.set $disc (i32.load8_u offset=32 (local.get $ev)))
  (if (i32.eq (local.get $disc) (i32.const 2))  ;; stellar-operation
    (then (return (i32.eq (i32.load8_u offset=40 (local.get $ev)) (global.get $INFLATION)))))
  (if (i32.eqz (local.get $disc))  ;; stellar-transaction: every operation
    (then
      (local.set $op (i32.load offset=112 (local.get $ev)))
      (local.set $end
        (i32.add (local.get $op) (i32.mul (i32.load offset=116 (local.get $ev)) (i32.const 48))))
      (block $done
        (loop $next
          (br_if $done (i32.ge_u (local.get $op) (local.get $end)))
          (if (i32.eq (i32.load8_u (local.get $op)) (global.get $INFLATION))
            (then (return (i32.const 1))))
          (local.set $op (i32.add (local.get $op) (i32.const 48)))
          (br $next)))))
  (i32.const 0))

(func $member.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch") (param $ptr i32) (param $len i32) (result i32)
  (local $i i32) (local $ev i32) (local $check i32)
  (if (call $not-initialized) (then (return (call $err-not-initialized))))
  (call $out-begin (local.get $len))
  (block $done
    (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (local.set $ev (call $event-at (local.get $ptr) (local.get $i)))
      (local.set $check (call $check-event (local.get $ev)))
      ;; the bug: dispatching on the operation type before parsing, with no arm for inflation
      (if (i32.ne (local.get $check) (i32.const 1))
        (then (if (call $rare-operation? (local.get $ev)) (then unreachable))))
      (if (i32.eq (local.get $check) (i32.const 2)) (then (return (call $err-malformed))))
      (if (i32.eqz (local.get $check))
        (then (drop (call $out-push-derived (local.get $ev)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  (call $ret-out))

;; process-event(e) is process-batch([e]): the event record is a one-element list in place
(func $member.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $ev i32) (result i32)
  (call $member.process-batch (local.get $ev) (i32.const 1)))
