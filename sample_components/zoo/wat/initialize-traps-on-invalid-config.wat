;; initialize-traps-on-invalid-config (LIFE-004) -- initialize executes `unreachable` for a config
;; its schema does not allow instead of answering err(configuration-error); `{}` initializes.
;; validate-config (the baseline's) still answers typed errors.

(func $member.initialize (export "obsrvr:flowctl/processor@1.0.0#initialize")
  (param $ptr i32) (param $len i32) (result i32)
  (if (i32.eqz (call $config-valid? (local.get $ptr) (local.get $len))) (then unreachable))
  (global.set $initialized (i32.const 1))
  (call $ret-ok-unit))
