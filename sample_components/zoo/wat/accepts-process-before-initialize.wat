;; accepts-process-before-initialize (LIFE-006) -- process-event and process-batch do not check
;; that initialize succeeded: before it they answer ok([]) (nothing configured, nothing emitted)
;; instead of err(configuration-error("not initialized")).  After initialize they are the
;; baseline's (one derived event per supported, well-formed event).  The rest is the baseline.

(func $member.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch") (param $ptr i32) (param $len i32) (result i32)
  ;; the bug: no initialize gate, an uninitialized processor just answers "nothing to emit"
  (if (call $not-initialized)
    (then (return (call $ret-ok-list (global.get $EMPTY_LIST) (i32.const 0)))))
  (call $zoo-process (local.get $ptr) (local.get $len)))

;; process-event(e) is process-batch([e]): the event record is a one-element list in place
(func $member.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $ev i32) (result i32)
  (call $member.process-batch (local.get $ev) (i32.const 1)))
