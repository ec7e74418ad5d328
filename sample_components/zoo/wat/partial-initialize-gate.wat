;; partial-initialize-gate (LIFE-006) -- the initialize gate sits in the transaction path only:
;; before initialize, a `transaction` event gets err(configuration-error("not initialized ...")),
;; but `operation` and `custom` events (and unsupported types) get ok([]) instead of the typed
;; refusal.  A batch is refused when it holds a transaction event, else answered ok([]).  After
;; initialize everything is the baseline's.

(func $member.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch") (param $ptr i32) (param $len i32) (result i32)
  (local $i i32)
  (if (call $not-initialized)
    (then
      (block $done
        (loop $next
          (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
          ;; event-type case 0: transaction -- the only path that checks the gate
          (if (i32.eqz (i32.load8_u offset=24 (call $event-at (local.get $ptr) (local.get $i))))
            (then (return (call $err-not-initialized))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next)))
      (return (call $ret-ok-list (global.get $EMPTY_LIST) (i32.const 0)))))
  (call $zoo-process (local.get $ptr) (local.get $len)))

;; process-event(e) is process-batch([e]): the event record is a one-element list in place
(func $member.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $ev i32) (result i32)
  (call $member.process-batch (local.get $ev) (i32.const 1)))
