;; traps-in-validate-config (LIFE-007, LIFE-003) -- validate-config executes `unreachable` for a
;; config its schema does not allow (a parse "panic") instead of answering
;; err(configuration-error); `{}` is accepted.  So invalid configs are not rejected either.

(func $member.validate-config (export "obsrvr:flowctl/processor@1.0.0#validate-config")
  (param $ptr i32) (param $len i32) (result i32)
  (if (i32.eqz (call $config-valid? (local.get $ptr) (local.get $len))) (then unreachable))
  (call $ret-ok-unit))
