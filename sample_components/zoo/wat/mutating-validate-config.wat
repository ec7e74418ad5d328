;; mutating-validate-config (LIFE-009) -- validate-config answers as the baseline's (ok for `{}`,
;; configuration-error otherwise) but also forgets initialize, as if re-reading a config reset
;; the processor: after any validate-config call on an initialized instance, process-event and
;; process-batch answer err(configuration-error("not initialized ...")) until initialize is
;; called again (which the reference host does not allow on an initialized instance).

(func $member.validate-config (export "obsrvr:flowctl/processor@1.0.0#validate-config")
  (param $ptr i32) (param $len i32) (result i32)
  ;; the bug: checking a config resets the processor's state
  (global.set $initialized (i32.const 0))
  (if (call $config-valid? (local.get $ptr) (local.get $len))
    (then (return (call $ret-ok-unit))))
  (call $ret-err (i32.const 5) (i32.const 368) (i32.const 64)))
